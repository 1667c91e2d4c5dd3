// A small HTTP/1.1 proxy on loopback that forwards requests to a real S3 server and, on a
// fixed schedule, answers some itself with 500 or 503, closes the connection before
// forwarding, or forwards and then cuts the answer off half way (the server did the work,
// the client never heard). Tests run gitvault through it to prove that retries make a run
// succeed anyway; its counters prove the faults really happened.
//
// The schedule counts requests over all connections: every `period`-th request gets the next
// fault of the cycle 503, 500, closed-before-forwarding, cut-off-answer; the requests right
// after a fault always pass, so no request meets a fault on every retry.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace gitvault::testing {

class FaultProxy {
 public:
  // Forwards to 127.0.0.1:upstream_port. period 0: no faults (a plain proxy).
  FaultProxy(int upstream_port, int period);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:PORT"
  std::string endpoint() const;
  // An s3:// destination through this proxy: the bucket and prefix given, path style, and
  // `extra` URL parameters ("&lease_seconds=3").
  std::string s3_url(const std::string& bucket, const std::string& prefix, const std::string& extra = "") const {
    return "s3://" + bucket + "/" + prefix + "?endpoint=" + endpoint() + "&use_path_style=true" + extra;
  }
  // The port of an endpoint URL ("http://127.0.0.1:7480" -> 7480): where the proxy forwards to.
  static int port_of(const std::string& endpoint_url) {
    return std::stoi(endpoint_url.substr(endpoint_url.rfind(':') + 1));
  }

  int requests() const { return requests_; }
  // Bytes of the answers passed on whole (headers and bodies): what a run read, listings too.
  long long answered_bytes() const { return answered_bytes_; }
  // While stalled, every request is held, unanswered, until the stall ends.
  void stall(bool on) { stalled_ = on; }
  // While on, every partial answer (206) loses the second half of its body, with a
  // Content-Length that matches (a well-formed answer that is not the range asked for).
  void short_ranges(bool on) { short_ranges_ = on; }
  // Stalls (as stall(true)) from the n-th request after this call on.
  void stall_after(int n) { stall_at_ = requests_ + n; }
  int answered_503() const { return answered_503_; }
  int answered_500() const { return answered_500_; }
  int closed_before_forwarding() const { return closed_before_; }
  int cut_off_answers() const { return cut_off_; }

 private:
  void accept_loop();
  void serve(int client);
  int upstream_port_;
  int period_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stalled_{false};
  std::atomic<int> stall_at_{0};
  std::atomic<bool> short_ranges_{false};
  std::atomic<int> requests_{0}, answered_503_{0}, answered_500_{0}, closed_before_{0}, cut_off_{0};
  std::atomic<long long> answered_bytes_{0};
  std::atomic<int> faults_{0};
  std::thread acceptor_;
  std::vector<std::thread> connections_;  // only the acceptor thread touches it until the destructor
};

}  // namespace gitvault::testing
