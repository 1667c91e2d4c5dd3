#include "tests/support/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstring>
#include <stdexcept>

namespace gitvault::testing {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Reads what is there (waiting up to 100 ms at a time while `stopping` is false); 0 at EOF.
long read_some(int fd, std::string& into, const std::atomic<bool>& stopping) {
  char buf[65536];
  for (;;) {
    if (stopping) return 0;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 100);
    if (r == 0) continue;
    if (r < 0) return 0;
    long n = ::read(fd, buf, sizeof buf);
    if (n > 0) into.append(buf, static_cast<std::size_t>(n));
    return n > 0 ? n : 0;
  }
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    long n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

struct Request {
  std::string head_lines;  // the request line and headers, Connection/Expect removed, no final CRLF
  std::string body;
  bool expects_continue = false;
};

// One request from `buffer` (reading more from `fd` as needed); false at EOF.
bool read_request(int fd, std::string& buffer, Request& req, const std::atomic<bool>& stopping) {
  std::size_t end;
  while ((end = buffer.find("\r\n\r\n")) == std::string::npos)
    if (read_some(fd, buffer, stopping) == 0) return false;
  std::string head = buffer.substr(0, end + 2);
  buffer.erase(0, end + 4);
  std::size_t length = 0;
  req = Request{};
  std::size_t at = 0;
  while (at < head.size()) {
    std::size_t eol = head.find("\r\n", at);
    std::string line = head.substr(at, eol - at);
    at = eol + 2;
    std::string name = lower(line.substr(0, line.find(':')));
    if (name == "content-length") length = std::stoul(line.substr(line.find(':') + 1));
    if (name == "expect") {
      req.expects_continue = true;
      continue;
    }
    if (name == "connection") continue;
    req.head_lines += line + "\r\n";
  }
  if (req.expects_continue && !write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n")) return false;
  while (buffer.size() < length)
    if (read_some(fd, buffer, stopping) == 0) return false;
  req.body = buffer.substr(0, length);
  buffer.erase(0, length);
  return true;
}

std::string error_answer(int status, const std::string& code) {
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
                     "</Code><Message>injected by the test proxy</Message></Error>";
  return "HTTP/1.1 " + std::to_string(status) + (status == 503 ? " Slow Down" : " Internal Server Error") +
         "\r\nContent-Type: application/xml\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The request sent upstream on a connection of its own, and the whole answer (the server
// closes after it: Connection: close).
bool forward(int upstream_port, const Request& req, std::string& answer, const std::atomic<bool>& stopping) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(upstream_port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
            write_all(fd, req.head_lines + "Connection: close\r\n\r\n") && write_all(fd, req.body);
  while (ok && read_some(fd, answer, stopping) > 0) {
  }
  ::close(fd);
  return ok && !answer.empty();
}

}  // namespace

FaultProxy::FaultProxy(int upstream_port, int period) : upstream_port_(upstream_port), period_(period) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error(std::string("fault proxy: cannot listen: ") + std::strerror(errno));
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  acceptor_.join();
  for (auto& t : connections_) t.join();
  ::close(listen_fd_);
}

std::string FaultProxy::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FaultProxy::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client >= 0) connections_.emplace_back([this, client] { serve(client); });
  }
}

void FaultProxy::serve(int client) {
  std::string buffer;
  Request req;
  while (read_request(client, buffer, req, stopping_)) {
    const int n = ++requests_;
    if (stall_at_ > 0 && n >= stall_at_) {
      stall_at_ = 0;
      stalled_ = true;
    }
    // A stalled gateway: the request is held (its client may give up meanwhile) and forwarded
    // when the stall ends, as a gateway that comes back does with what it had queued.
    while (stalled_ && !stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    int fault = -1;  // the cycle: 0 = 503, 1 = 500, 2 = closed before forwarding, 3 = cut-off answer
    if (period_ > 0 && n % period_ == 0) fault = faults_++ % 4;
    if (fault == 0) {
      ++answered_503_;
      if (!write_all(client, error_answer(503, "SlowDown"))) break;
      continue;
    }
    if (fault == 1) {
      ++answered_500_;
      if (!write_all(client, error_answer(500, "InternalError"))) break;
      continue;
    }
    if (fault == 2) {
      ++closed_before_;
      break;
    }
    std::string answer;
    if (!forward(upstream_port_, req, answer, stopping_)) break;
    if (short_ranges_ && answer.rfind("HTTP/1.1 206", 0) == 0) {
      const std::size_t end = answer.find("\r\n\r\n");
      if (end != std::string::npos && answer.size() - (end + 4) > 1) {
        std::string head = answer.substr(0, end + 2), body = answer.substr(end + 4);
        body.resize(body.size() / 2);
        std::string rewritten;
        for (std::size_t at = 0; at < head.size();) {
          const std::size_t eol = head.find("\r\n", at);
          std::string line = head.substr(at, eol - at);
          if (lower(line).rfind("content-length:", 0) == 0) line = "Content-Length: " + std::to_string(body.size());
          rewritten += line + "\r\n";
          at = eol + 2;
        }
        answer = rewritten + "\r\n" + body;
      }
    }
    if (fault == 3) {
      ++cut_off_;
      write_all(client, std::string_view(answer).substr(0, answer.size() / 2));
      break;
    }
    answered_bytes_ += static_cast<long long>(answer.size());
    write_all(client, answer);
    break;  // the answer says Connection: close
  }
  ::close(client);
}

}  // namespace gitvault::testing
