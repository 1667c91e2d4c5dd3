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
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gitvault::s3 {

// Whether a destination still answers, across every request of a process (all its clients
// and threads), not one request at a time: a streak of failed attempts (no connection,
// timeouts, 5xx) that lasts `dead_after` with no answer in between makes the destination
// dead, and from then on every request fails at once saying since when. Any answer ends a
// streak. A run then stops attempting repositories instead of retrying each on its own
// (a killed gateway once cost ~3.5 s per remaining repository: nine hours for 10,000).
class DestinationHealth {
 public:
  explicit DestinationHealth(std::chrono::seconds dead_after) : dead_after_(dead_after) {}
  void answered();
  // A failed attempt; true when the destination is dead now.
  bool failed_attempt(const std::string& what);
  // Empty while alive; else "the destination stopped answering at <UTC time> (…)".
  std::string dead() const;

 private:
  const std::chrono::seconds dead_after_;
  mutable std::mutex mu_;
  std::optional<std::chrono::steady_clock::time_point> streak_;  // guarded by mu_
  std::string streak_started_at_;                                // guarded by mu_ (UTC)
  std::string dead_;                                             // guarded by mu_
};

struct Endpoint {
  std::string url = "https://s3.amazonaws.com";  // scheme://host[:port], no trailing slash
  std::string region = "us-east-1";
  std::string bucket;
  bool path_style = true;  // https://host/bucket/key (false: https://bucket.host/key)
  std::string ca_file;     // ca_file=PATH: the CAs that sign the endpoint's certificate (default: the system's)
  // request_timeout=SECONDS: one attempt of one request, at most (a server that trickles a
  // byte a minute passes libcurl's low-speed check for ever).
  std::chrono::seconds request_timeout{300};
  // Shared by every client of one destination in a process (parse_url makes one, with
  // dead_after=SECONDS, default 45); none: each request on its own.
  std::shared_ptr<DestinationHealth> health;
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
// One version of an object, or a delete marker, in a versioned bucket (ListObjectVersions).
struct ObjectVersion {
  std::string key;
  std::string version_id;
  bool latest = false;
  bool delete_marker = false;
  std::uint64_t size = 0;
  std::int64_t last_modified = 0;  // Unix seconds, the server's clock
};
// S3 Object Lock retention of one object version (docs/object-storage.md, "Object Lock"):
// until `until` (the server's clock) no key can delete or change that version; GOVERNANCE
// can be lifted by a user with s3:BypassGovernanceRetention, COMPLIANCE by nobody.
struct Retention {
  std::string mode;  // "GOVERNANCE" or "COMPLIANCE"
  std::int64_t until = 0;  // Unix time, seconds
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

  // With `lock`, the object is written with that retention (Object Lock headers).
  void put(const std::string& key, std::string_view data, const Retention* lock = nullptr);
  // PUT with If-None-Match: * — false when the key exists already (412).
  bool put_if_absent(const std::string& key, std::string_view data);
  // nullopt when absent.
  std::optional<std::string> get(const std::string& key);
  // Bytes [offset, offset+size) of the object; shorter at its end; nullopt when absent.
  std::optional<std::string> get_range(const std::string& key, std::uint64_t offset, std::uint64_t size);
  // The same, checked and pinned: the answer must be exactly the bytes asked for (as many as
  // the object has from offset on), and with `if_match` (an ETag from an earlier read) the
  // object must still be that version — Error(Io) naming the key otherwise ("changed while
  // being read", "answered N bytes for a range of M").
  struct RangeRead {
    std::string data;
    std::uint64_t object_size = 0;
    std::string etag;
  };
  // With `version_id`, that version of the object (a versioned bucket).
  std::optional<RangeRead> read_range(const std::string& key, std::uint64_t offset, std::uint64_t size,
                                      const std::string& if_match = "", const std::string& version_id = "");
  // The object's size, nullopt when absent.
  std::optional<std::uint64_t> head(const std::string& key);
  // The object's Last-Modified (server clock), nullopt when absent.
  std::optional<std::chrono::system_clock::time_point> last_modified(const std::string& key);
  void remove(const std::string& key);                        // absent is fine
  void remove_many(const std::vector<std::string>& keys);     // batch delete, 1000 per request

  // Under `prefix`; with a delimiter, the common prefixes too. Every page; with
  // `start_after`, only keys after it (ListObjectsV2 start-after).
  Listing list(const std::string& prefix, const std::string& delimiter = "", const std::string& start_after = "");

  std::string create_upload(const std::string& key, const Retention* lock = nullptr);
  // Every version and delete marker under `prefix`, every page (ListObjectVersions).
  std::vector<ObjectVersion> list_versions(const std::string& prefix);
  // Deletes one version (or delete marker) for good. False when Object Lock keeps it (403
  // AccessDenied); any other refusal is an Error.
  bool remove_version(const std::string& key, const std::string& version_id);
  // Whether the bucket has Object Lock enabled (GetObjectLockConfiguration); such a bucket
  // is versioned.
  bool object_lock_enabled();
  // Sets the retention of the current version of `key` (PutObjectRetention): a later date
  // extends a lock; an earlier one is refused by the server unless GOVERNANCE is bypassed.
  void put_retention(const std::string& key, const Retention& retention);
  // The retention of the current version of `key`; nullopt when it has none.
  std::optional<Retention> get_retention(const std::string& key);
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
  void set_connection_options(void* curl, const std::string& url, void* headers);  // CURL*, curl_slist*
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
  // allow_whole_bucket=true: no prefix, the bucket is gitvault's alone (refused without it).
  bool allow_whole_bucket = false;
  // allow_insecure_http=true: an http:// endpoint that is not this machine (refused without it).
  bool allow_insecure_http = false;
  // object_lock=governance|compliance and lock_for=DURATION: every object a backup writes is
  // locked that long in that mode (Object Lock; the bucket must have it enabled).
  std::string object_lock;  // "GOVERNANCE", "COMPLIANCE" or "" (none)
  std::int64_t lock_for = 0;  // seconds
  // as_of=UNIX_SECONDS: read the destination as it stood then, from object versions
  // (destination/as_of_sink.h); nothing is written.
  std::int64_t as_of = 0;
};
// Throws Error(Usage) for anything else, for a URL without a prefix (unless
// allow_whole_bucket=true) and for a plain http:// endpoint on another machine (unless
// allow_insecure_http=true).
Url parse_url(const std::string& url);
// Whether an endpoint URL's host is this machine (localhost, 127.0.0.0/8, ::1).
bool is_loopback_url(const std::string& endpoint);

// Credentials (s3/credentials.cpp), in this order (docs/object-storage.md, "Credentials"):
//  1. the environment's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN),
//     as the process had them when it started (adopt_environment_credentials);
//  2. `[s3]` access_key_id / secret_access_key of the config (set_configured_credentials);
//  3. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials),
//     profile AWS_PROFILE or "default".
// Throws Error(Config) saying where it looked — never printing a secret — and for half a
// pair in the environment.
Credentials credentials_from_environment();
// Takes the AWS_* secrets out of this process's environment into memory, so that no child
// (git, hooks) inherits them; a program calls it first thing. Core dumps are switched off
// (PR_SET_DUMPABLE) whenever a secret is in memory.
void adopt_environment_credentials();
// The keys of `[s3]` in the config (empty: none).
void set_configured_credentials(const Credentials& credentials);
// What a child that talks to object storage itself (the gitaly-backup worker) is given in
// its environment: the credentials in effect, as AWS_* variables; empty when there are none.
std::vector<std::pair<std::string, std::string>> credentials_for_child();

// RFC 3986 percent-encoding of every byte but A-Z a-z 0-9 - . _ ~ (and '/' when keep_slash).
std::string uri_encode(std::string_view bytes, bool keep_slash);
std::string uri_decode(std::string_view text);

}  // namespace gitvault::s3
