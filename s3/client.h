// A small client of the S3 API, enough for a backup destination: objects (single PUT,
// multipart upload, ranged GET, HEAD, DELETE, batch delete, conditional create), listings
// and unfinished uploads. HTTP and SigV4 signing are libcurl's (CURLOPT_AWS_SIGV4), XML is
// pugixml's: nothing here writes HTTP, signatures or XML by hand.
//
// Every request carries x-amz-content-sha256 with the SHA-256 of its body, so the server
// checks each payload end to end. Requests that fail with 5xx, 429, a timeout or a reset
// connection are retried with exponential backoff and full jitter. Every error names the
// bucket, the key, the HTTP status and S3's error code.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gitvault::s3 {

struct Endpoint {
  std::string url = "https://s3.amazonaws.com";  // scheme://host[:port], no trailing slash
  std::string region = "us-east-1";
  std::string bucket;
  bool path_style = true;  // https://host/bucket/key (false: https://bucket.host/key)
};

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // optional
};

struct Tuning {
  int max_attempts = 6;                                    // per request, the first included
  std::chrono::milliseconds first_backoff{200};            // doubled each retry, with full jitter
  std::chrono::milliseconds max_backoff{10'000};
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds low_speed_time{60};                 // abort a transfer stalled this long
};

struct Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string header(const std::string& name) const;
};

// Query parameters, unencoded; the client encodes and sorts them.
using Query = std::vector<std::pair<std::string, std::string>>;

struct ListedObject {
  std::string key;
  std::uint64_t size = 0;
  std::chrono::system_clock::time_point last_modified;  // the server's clock
};

struct Listing {
  std::vector<ListedObject> objects;
  std::vector<std::string> common_prefixes;
};

struct Upload {
  std::string key;
  std::string upload_id;
};

class Client {
 public:
  Client(Endpoint endpoint, Credentials credentials, Tuning tuning = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Endpoint& endpoint() const { return endpoint_; }
  // "s3://bucket/key" for messages.
  std::string describe(const std::string& key) const;

  // One request with retries. `headers` are "Name: value" lines. Returns whatever status the
  // server gave after retries; throws Error(Io) only when no answer came at all.
  Response send(const std::string& method, const std::string& key, const Query& query,
                const std::vector<std::string>& headers, std::string_view body);

  // The same, throwing Error (NotFound for 404, Io otherwise) naming bucket, key, status and
  // S3's error code unless the status is one of `ok`.
  Response expect(const std::string& method, const std::string& key, const Query& query,
                  const std::vector<std::string>& headers, std::string_view body, std::vector<long> ok = {200});

  // `r` when its status is one of `ok`; else the Error expect() throws.
  Response checked(Response r, const std::string& method, const std::string& key, const std::vector<long>& ok) const;

  void put(const std::string& key, std::string_view data);
  // PUT with If-None-Match: * — false when the key exists already (412).
  bool put_if_absent(const std::string& key, std::string_view data);
  // nullopt when absent.
  std::optional<std::string> get(const std::string& key);
  // Bytes [offset, offset+size) of the object; shorter at its end; nullopt when absent.
  std::optional<std::string> get_range(const std::string& key, std::uint64_t offset, std::uint64_t size);
  // The object's size, nullopt when absent.
  std::optional<std::uint64_t> head(const std::string& key);
  // The object's Last-Modified (server clock), nullopt when absent.
  std::optional<std::chrono::system_clock::time_point> last_modified(const std::string& key);
  void remove(const std::string& key);                        // absent is fine
  void remove_many(const std::vector<std::string>& keys);     // batch delete, 1000 per request

  // Under `prefix`; with a delimiter, the common prefixes too. Every page.
  Listing list(const std::string& prefix, const std::string& delimiter = "");

  std::string create_upload(const std::string& key);
  // Returns the part's ETag.
  std::string upload_part(const std::string& key, const std::string& upload_id, int part_number, std::string_view data);
  // Idempotent: a retry whose first attempt completed the upload (its answer lost) finds
  // NoSuchUpload, and succeeds when the object has the ETag these parts make.
  void complete_upload(const std::string& key, const std::string& upload_id, const std::vector<std::string>& etags);
  void abort_upload(const std::string& key, const std::string& upload_id);
  std::vector<Upload> list_uploads(const std::string& prefix);

  // The server's clock (its Date header), for leases that must not trust ours.
  std::chrono::system_clock::time_point server_time();

 private:
  std::string url_for(const std::string& key, const Query& query) const;
  Endpoint endpoint_;
  Credentials credentials_;
  Tuning tuning_;
  void* curl_;  // one easy handle, reused (keep-alive); a Client is used by one thread at a time
  int socket_ = -1;  // the socket of its connection, for TCP_QUICKACK (client.cpp, on_header)
};

// "s3://bucket/prefix?endpoint=...&region=...&use_path_style=true" (Go CDK style), plus
// gitvault's part_size, parts_in_flight and lease_seconds.
struct Url {
  Endpoint endpoint;
  std::string prefix;                      // no leading or trailing '/'
  std::uint64_t part_size = 8 << 20;       // part_size=BYTES: multipart part (min 5 MiB); smaller files: one PUT
  // parts_in_flight=N: a writer's parts in memory at once, the one filling included; N-1 go
  // up meanwhile. Memory per writer: part_size x N. 1: each part goes up before the next fills.
  int parts_in_flight = 2;
  int lease_seconds = 60;                  // lease_seconds=N: a run's lock lease, renewed every N/3 s
};
// Throws Error(Usage) for anything else.
Url parse_url(const std::string& url);

// Credentials from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), else the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
// ~/.aws/credentials) and profile (AWS_PROFILE, else "default"). Throws Error(Config)
// saying where it looked — never printing a secret.
Credentials credentials_from_environment();

// RFC 3986 percent-encoding of every byte but A-Z a-z 0-9 - . _ ~ (and '/' when keep_slash).
std::string uri_encode(std::string_view bytes, bool keep_slash);
std::string uri_decode(std::string_view text);

}  // namespace gitvault::s3
