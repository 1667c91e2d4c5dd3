#include "s3/client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <dlfcn.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>
#include <pugixml.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "base/encoding.h"
#include "base/error.h"
#include "base/sha256.h"
#include "base/system.h"

namespace gitvault::s3 {
namespace {

CURL* handle(void* p) { return static_cast<CURL*>(p); }

// libcurl is loaded when the first S3 client is made, not when gitvault starts: it pulls in
// some twenty libraries (TLS, LDAP, SSH, HTTP/2, ...) whose loading would slow every run that
// never talks to object storage — a nightly run over a local directory by a few
// milliseconds per process. The functions are those of curl/curl.h, called through these.
struct Curl {
  CURLcode (*global_init)(long);
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  void (*easy_reset)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  curl_version_info_data* (*version_info)(CURLversion);
};

// SigV4 signing (CURLOPT_AWS_SIGV4) came in libcurl 7.75.0. An older libcurl ignores the
// option and would send the access key and the secret as HTTP Basic authentication.
constexpr unsigned kMinimumCurl = 0x074B00;

const Curl& curl() {
  static const Curl api = [] {
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      throw Error(ErrorCode::Config, std::string("object storage needs libcurl (apt-get install libcurl4): ") + ::dlerror());
    auto sym = [lib](const char* name) {
      void* f = ::dlsym(lib, name);
      if (!f) throw Error(ErrorCode::Config, std::string("libcurl.so.4 has no ") + name);
      return f;
    };
    Curl c;
    c.global_init = reinterpret_cast<decltype(c.global_init)>(sym("curl_global_init"));
    c.easy_init = reinterpret_cast<decltype(c.easy_init)>(sym("curl_easy_init"));
    c.easy_cleanup = reinterpret_cast<decltype(c.easy_cleanup)>(sym("curl_easy_cleanup"));
    c.easy_reset = reinterpret_cast<decltype(c.easy_reset)>(sym("curl_easy_reset"));
    c.easy_setopt = reinterpret_cast<decltype(c.easy_setopt)>(sym("curl_easy_setopt"));
    c.easy_perform = reinterpret_cast<decltype(c.easy_perform)>(sym("curl_easy_perform"));
    c.easy_getinfo = reinterpret_cast<decltype(c.easy_getinfo)>(sym("curl_easy_getinfo"));
    c.easy_strerror = reinterpret_cast<decltype(c.easy_strerror)>(sym("curl_easy_strerror"));
    c.slist_append = reinterpret_cast<decltype(c.slist_append)>(sym("curl_slist_append"));
    c.slist_free_all = reinterpret_cast<decltype(c.slist_free_all)>(sym("curl_slist_free_all"));
    c.version_info = reinterpret_cast<decltype(c.version_info)>(sym("curl_version_info"));
    const curl_version_info_data* v = c.version_info(CURLVERSION_NOW);
    if (!v || v->version_num < kMinimumCurl)
      throw Error(ErrorCode::Config, std::string("object storage needs libcurl 7.75.0 or newer (SigV4 signing); "
                                                 "libcurl.so.4 here is ") +
                                         (v && v->version ? v->version : "of unknown version") +
                                         ": refusing to send credentials with it");
    c.global_init(CURL_GLOBAL_DEFAULT);
    return c;
  }();
  return api;
}

// Sets one option, or throws naming it: a libcurl that refuses an option (an older or
// differently built one) must not be used with half the options set — without
// CURLOPT_AWS_SIGV4, user and password would go out as Basic authentication.
template <typename T>
void set_option(CURL* c, CURLoption option, T value, const char* name) {
  CURLcode rc = curl().easy_setopt(c, option, value);
  if (rc != CURLE_OK)
    throw Error(ErrorCode::Config, std::string("libcurl refused ") + name + ": " + curl().easy_strerror(rc));
}
#define GITVAULT_SET(c, option, value) set_option(c, option, value, #option)

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

struct UploadSource {
  std::string_view data;
  std::size_t pos = 0;
};

size_t on_read(char* out, size_t size, size_t n, void* user) {
  auto* src = static_cast<UploadSource*>(user);
  std::size_t k = std::min(size * n, src->data.size() - src->pos);
  std::copy_n(src->data.data() + src->pos, k, out);
  src->pos += k;
  return k;
}

struct HeaderSink {
  std::map<std::string, std::string>* headers;
  const int* socket;  // the connection's socket (remembered when curl opened it), -1: none
};

// Remembers the socket of each connection curl opens for this client.
int remember_socket(void* where, curl_socket_t fd, curlsocktype) {
  *static_cast<int*>(where) = fd;
  return CURL_SOCKOPT_OK;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<HeaderSink*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    // The answer's head is here: acknowledge it now. radosgw writes head and body in two
    // segments; with Nagle on its side and delayed ACKs on ours, every GET over a kept-alive
    // connection waited 40 ms for this ACK before the body came (measured: 44 ms per small
    // GET, 2.6 ms with a new connection each). Setting TCP_QUICKACK sends a pending ACK.
    if (*sink->socket >= 0) {
      int one = 1;
      ::setsockopt(*sink->socket, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
  }
  auto colon = line.find(':');
  if (colon != std::string::npos)
    (*sink->headers)[ascii_lower(trim_blanks(line.substr(0, colon)))] = trim_blanks(line.substr(colon + 1));
  return size * n;
}

bool retryable(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_COULDNT_RESOLVE_HOST:
      return true;
    default:
      return false;
  }
}

bool retryable(long status) { return status == 429 || (status >= 500 && status <= 599); }

// S3's <Error><Code>..</Code><Message>..</Message></Error>, as "Code: Message".
std::string s3_error(const std::string& body) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) return "";
  auto e = doc.child("Error");
  if (!e) return "";
  std::string code = e.child_value("Code"), msg = e.child_value("Message");
  return msg.empty() ? code : code + ": " + msg;
}

pugi::xml_document parse_xml(const std::string& body, const std::string& what) {
  pugi::xml_document doc;
  auto r = doc.load_buffer(body.data(), body.size());
  if (!r) throw Error(ErrorCode::Io, what + ": the server's answer is not XML (" + r.description() + ")");
  return doc;
}

std::string md5_base64(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

// The ETag S3 gives an object completed from parts: the MD5 of the parts' MD5s, "-", the count.
// A part's ETag that is not 32 hexadecimal digits is an Error naming `where`.
std::string multipart_etag(const std::vector<std::string>& part_etags, const std::string& where) {
  std::string digests;
  for (std::string e : part_etags) {
    e.erase(std::remove(e.begin(), e.end(), '"'), e.end());
    if (e.size() != 32 || !std::all_of(e.begin(), e.end(), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)); }))
      throw Error(ErrorCode::Io, where + ": a part's ETag is not an MD5 ('" + printable(e) + "')");
    for (std::size_t i = 0; i + 1 < e.size(); i += 2)
      digests += static_cast<char>(std::stoi(e.substr(i, 2), nullptr, 16));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(digests.data(), digests.size(), md, &len, EVP_md5(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out + "-" + std::to_string(part_etags.size());
}

// A key that XML 1.0 cannot carry (control characters, bytes that are not UTF-8).
bool xml_safe(const std::string& key) {
  if (!is_valid_utf8(key)) return false;
  for (unsigned char c : key)
    if (c < 0x20) return false;
  return true;
}

struct XmlText : pugi::xml_writer {
  std::string text;
  void write(const void* data, size_t size) override { text.append(static_cast<const char*>(data), size); }
};

std::string xml_text(const pugi::xml_document& doc) {
  XmlText w;
  doc.save(w, "", pugi::format_raw | pugi::format_no_declaration);
  return w.text;
}

// "2026-11-23T08:00:00.000Z" (listings) or "Mon, 23 Nov 2026 08:00:00 GMT" (headers).
std::chrono::system_clock::time_point parse_time(const std::string& text) {
  std::tm tm{};
  if (!strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) && !strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S", &tm))
    return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

std::string Response::header(const std::string& name) const {
  auto it = headers.find(ascii_lower(name));
  return it == headers.end() ? "" : it->second;
}

std::string uri_encode(std::string_view bytes, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string uri_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() + 0 && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (text[i] == '+') {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

Client::Client(Endpoint endpoint, Credentials credentials, Tuning tuning)
    : endpoint_(std::move(endpoint)), credentials_(std::move(credentials)), tuning_(tuning) {
  curl_ = curl().easy_init();
  if (!curl_) throw Error(ErrorCode::Internal, "cannot initialise libcurl");
}

Client::~Client() { curl().easy_cleanup(handle(curl_)); }

std::string Client::describe(const std::string& key) const { return "s3://" + endpoint_.bucket + "/" + key; }

std::string Client::url_for(const std::string& key, const Query& query) const {
  std::string url;
  if (endpoint_.path_style) {
    url = endpoint_.url + "/" + endpoint_.bucket + "/" + uri_encode(key, true);
  } else {
    auto scheme_end = endpoint_.url.find("://");
    url = endpoint_.url.substr(0, scheme_end + 3) + endpoint_.bucket + "." + endpoint_.url.substr(scheme_end + 3) + "/" +
          uri_encode(key, true);
  }
  // SigV4 wants the query canonical (encoded, sorted); libcurl 7.88 signs it as written.
  std::vector<std::string> parts;
  for (const auto& [k, v] : query) parts.push_back(uri_encode(k, false) + "=" + uri_encode(v, false));
  std::sort(parts.begin(), parts.end());
  for (std::size_t i = 0; i < parts.size(); ++i) url += (i ? "&" : "?") + parts[i];
  return url;
}

// The options every request of this client has: where it goes, how it is signed, and the
// limits on connecting, stalling and the whole attempt.
void Client::set_connection_options(void* handle, const std::string& url, void* headers) {
  CURL* c = static_cast<CURL*>(handle);
  GITVAULT_SET(c, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(headers));
  GITVAULT_SET(c, CURLOPT_URL, url.c_str());
  const std::string sigv4 = "aws:amz:" + endpoint_.region + ":s3";
  GITVAULT_SET(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
  GITVAULT_SET(c, CURLOPT_USERNAME, credentials_.access_key_id.c_str());
  GITVAULT_SET(c, CURLOPT_PASSWORD, credentials_.secret_access_key.c_str());
  GITVAULT_SET(c, CURLOPT_NOSIGNAL, 1L);
  // Keys are sent as they are: no "/../" or "/./" folded into another key or bucket.
  GITVAULT_SET(c, CURLOPT_PATH_AS_IS, 1L);
  // An overall deadline per request (a server that trickles a byte a minute passes the
  // low-speed check); a stalled request then counts as a failed attempt.
  GITVAULT_SET(c, CURLOPT_TIMEOUT, static_cast<long>(endpoint_.request_timeout.count()));
  GITVAULT_SET(c, CURLOPT_SSL_VERIFYPEER, 1L);
  GITVAULT_SET(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!endpoint_.ca_file.empty()) GITVAULT_SET(c, CURLOPT_CAINFO, endpoint_.ca_file.c_str());
  GITVAULT_SET(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(tuning_.connect_timeout.count()));
  GITVAULT_SET(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  GITVAULT_SET(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(tuning_.low_speed_time.count()));
}

Response Client::send(const std::string& method, const std::string& key, const Query& query,
                      const std::vector<std::string>& headers, std::string_view body) {
  const std::string url = url_for(key, query);
  const std::string payload_hash = sha256_hex(std::string(body));
  std::mt19937_64 rng(std::random_device{}());
  std::string last_failure;
  DestinationHealth* health = endpoint_.health.get();
  for (int attempt = 1;; ++attempt) {
    if (health)
      if (std::string dead = health->dead(); !dead.empty())
        throw Error(ErrorCode::Io, method + " " + describe(key) + ": not attempted: " + dead);
    CURL* c = handle(curl_);
    curl().easy_reset(c);
    Response r;
    curl_slist* list = nullptr;
    for (const auto& h : headers) list = curl().slist_append(list, h.c_str());
    list = curl().slist_append(list, ("x-amz-content-sha256: " + payload_hash).c_str());
    if (!credentials_.session_token.empty())
      list = curl().slist_append(list, ("x-amz-security-token: " + credentials_.session_token).c_str());
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> list_guard(list, curl().slist_free_all);
    set_connection_options(c, url, list);
    GITVAULT_SET(c, CURLOPT_WRITEFUNCTION, on_body);
    GITVAULT_SET(c, CURLOPT_WRITEDATA, &r.body);
    GITVAULT_SET(c, CURLOPT_HEADERFUNCTION, on_header);
    HeaderSink header_sink{&r.headers, &socket_};
    GITVAULT_SET(c, CURLOPT_SOCKOPTFUNCTION, remember_socket);
    GITVAULT_SET(c, CURLOPT_SOCKOPTDATA, static_cast<void*>(&socket_));
    GITVAULT_SET(c, CURLOPT_HEADERDATA, &header_sink);
    UploadSource source{body};
    if (method == "HEAD") {
      GITVAULT_SET(c, CURLOPT_NOBODY, 1L);
    } else if (method == "GET") {
      GITVAULT_SET(c, CURLOPT_HTTPGET, 1L);
    } else if (method == "PUT") {
      GITVAULT_SET(c, CURLOPT_UPLOAD, 1L);
      GITVAULT_SET(c, CURLOPT_READFUNCTION, on_read);
      GITVAULT_SET(c, CURLOPT_READDATA, &source);
      GITVAULT_SET(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
    } else if (method == "POST") {
      GITVAULT_SET(c, CURLOPT_POST, 1L);
      GITVAULT_SET(c, CURLOPT_POSTFIELDS, body.data());
      GITVAULT_SET(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    } else {
      GITVAULT_SET(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    CURLcode rc = curl().easy_perform(c);
    list_guard.reset();
    if (rc == CURLE_OK) {
      curl().easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
      if (!retryable(r.status)) {
        if (health) health->answered();
        return r;
      }
      last_failure = "HTTP " + std::to_string(r.status);
      const bool dead = health && health->failed_attempt(last_failure);
      if (attempt >= tuning_.max_attempts || dead) return r;
    } else {
      last_failure = curl().easy_strerror(rc);
      const bool dead = retryable(rc) && health && health->failed_attempt(last_failure);
      if (!retryable(rc) || attempt >= tuning_.max_attempts || dead)
        throw Error(ErrorCode::Io, method + " " + describe(key) + ": " + last_failure + " (" + endpoint_.url + ", " +
                                       std::to_string(attempt) + " attempt" + (attempt == 1 ? "" : "s") +
                                       (dead ? "; " + health->dead() : "") + ")");
    }
    // Exponential backoff with full jitter.
    long long cap = std::min<long long>(tuning_.max_backoff.count(),
                                        tuning_.first_backoff.count() * (1LL << std::min(attempt - 1, 16)));
    std::uniform_int_distribution<long long> d(0, cap);
    std::this_thread::sleep_for(std::chrono::milliseconds(d(rng)));
  }
}

Response Client::expect(const std::string& method, const std::string& key, const Query& query,
                        const std::vector<std::string>& headers, std::string_view body, std::vector<long> ok) {
  return checked(send(method, key, query, headers, body), method, key, ok);
}

Response Client::checked(Response r, const std::string& method, const std::string& key,
                         const std::vector<long>& ok) const {
  if (std::find(ok.begin(), ok.end(), r.status) != ok.end()) return r;
  std::string code = s3_error(r.body);
  const bool denied = r.status == 401 || r.status == 403;
  throw Error(r.status == 404 ? ErrorCode::NotFound : denied ? ErrorCode::Config : ErrorCode::Io,
              method + " " + describe(key) + ": HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code) +
                  (denied ? " (check the S3 credentials and the bucket's permissions)" : ""));
}

namespace {
std::vector<std::string> lock_headers(const Retention* lock) {
  if (!lock) return {};
  return {"x-amz-object-lock-mode: " + lock->mode, "x-amz-object-lock-retain-until-date: " + format_rfc3339(lock->until)};
}
}  // namespace

void Client::put(const std::string& key, std::string_view data, const Retention* lock) {
  std::vector<std::string> headers = {"Content-Type: application/octet-stream", "Content-MD5: " + md5_base64(data)};
  for (auto& h : lock_headers(lock)) headers.push_back(std::move(h));
  expect("PUT", key, {}, headers, data);
}

bool Client::object_lock_enabled() {
  Response r = expect("GET", "", {{"object-lock", ""}}, {}, "", {200, 404});
  if (r.status == 404) return false;  // ObjectLockConfigurationNotFoundError
  auto doc = parse_xml(r.body, "the Object Lock configuration of " + describe(""));
  return std::string(doc.child("ObjectLockConfiguration").child_value("ObjectLockEnabled")) == "Enabled";
}

void Client::put_retention(const std::string& key, const Retention& retention) {
  pugi::xml_document doc;
  auto root = doc.append_child("Retention");
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  root.append_child("Mode").text().set(retention.mode.c_str());
  root.append_child("RetainUntilDate").text().set(format_rfc3339(retention.until).c_str());
  std::ostringstream body;
  doc.save(body, "", pugi::format_raw | pugi::format_no_declaration);
  const std::string text = body.str();
  expect("PUT", key, {{"retention", ""}}, {"Content-Type: application/xml", "Content-MD5: " + md5_base64(text)}, text);
}

std::optional<Retention> Client::get_retention(const std::string& key) {
  Response r = expect("GET", key, {{"retention", ""}}, {}, "", {200, 404});
  if (r.status == 404) return std::nullopt;  // no retention (or no such key: NoSuchKey)
  auto doc = parse_xml(r.body, "the retention of " + describe(key));
  auto node = doc.child("Retention");
  Retention out{node.child_value("Mode"), parse_rfc3339(node.child_value("RetainUntilDate"))};
  if (out.mode.empty() || out.until < 0)
    throw Error(ErrorCode::Io, "GET " + describe(key) + "?retention: no mode or date in the answer");
  return out;
}

bool Client::put_if_absent(const std::string& key, std::string_view data) {
  Response r = expect("PUT", key, {}, {"Content-Type: application/octet-stream", "If-None-Match: *"}, data, {200, 412});
  return r.status == 200;
}

std::optional<std::string> Client::get(const std::string& key) {
  Response r = expect("GET", key, {}, {}, "", {200, 404});
  if (r.status == 404) return std::nullopt;
  return std::move(r.body);
}

std::optional<std::string> Client::get_range(const std::string& key, std::uint64_t offset, std::uint64_t size) {
  auto r = read_range(key, offset, size);
  if (!r) return std::nullopt;
  return std::move(r->data);
}

std::optional<Client::RangeRead> Client::read_range(const std::string& key, std::uint64_t offset,
                                                    std::uint64_t size, const std::string& if_match,
                                                    const std::string& version_id) {
  std::vector<std::string> headers = {"Range: bytes=" + std::to_string(offset) + "-" + std::to_string(offset + size - 1)};
  if (!if_match.empty()) headers.push_back("If-Match: " + if_match);
  Query q;
  if (!version_id.empty()) q.push_back({"versionId", version_id});
  Response r = expect("GET", key, q, headers, "", {200, 206, 404, 412, 416});
  if (r.status == 404) return std::nullopt;
  if (r.status == 412)
    throw Error(ErrorCode::Io, "GET " + describe(key) + ": the object changed while being read (its ETag is no "
                                                        "longer " + if_match + ")");
  RangeRead out;
  out.etag = r.header("etag");
  const std::string where = "GET " + describe(key) + " bytes " + std::to_string(offset) + "+" + std::to_string(size);
  if (r.status == 416) {  // offset at or past the end
    out.object_size = offset;
    return out;
  }
  if (r.status == 200) {  // the whole object (a server that ignores ranges)
    out.object_size = r.body.size();
    out.data = r.body.size() > offset ? r.body.substr(offset, size) : std::string();
    return out;
  }
  // 206: "Content-Range: bytes FIRST-LAST/TOTAL" must be the range asked for, cut at the end.
  unsigned long long first = 0, last = 0, total = 0;
  const std::string cr = r.header("content-range");
  if (std::sscanf(cr.c_str(), "bytes %llu-%llu/%llu", &first, &last, &total) != 3 || last < first)
    throw Error(ErrorCode::Io, where + ": unreadable Content-Range '" + cr + "'");
  const std::uint64_t expected = std::min<std::uint64_t>(size, total > offset ? total - offset : 0);
  if (first != offset || last - first + 1 != expected || r.body.size() != expected)
    throw Error(ErrorCode::Io, where + ": answered " + std::to_string(r.body.size()) + " bytes (" + cr +
                                   ") for a range of " + std::to_string(expected));
  out.object_size = total;
  out.data = std::move(r.body);
  return out;
}

std::optional<std::uint64_t> Client::head(const std::string& key) {
  Response r = expect("HEAD", key, {}, {}, "", {200, 404});
  if (r.status == 404) return std::nullopt;
  std::string len = r.header("content-length");
  return len.empty() ? 0 : std::stoull(len);
}

std::optional<std::chrono::system_clock::time_point> Client::last_modified(const std::string& key) {
  Response r = expect("HEAD", key, {}, {}, "", {200, 404});
  if (r.status == 404) return std::nullopt;
  return parse_time(r.header("last-modified"));
}

void Client::remove(const std::string& key) { expect("DELETE", key, {}, {}, "", {200, 204, 404}); }

void Client::remove_many(const std::vector<std::string>& keys) {
  std::vector<std::string> batch;
  auto flush = [&] {
    if (batch.empty()) return;
    pugi::xml_document doc;
    auto del = doc.append_child("Delete");
    del.append_child("Quiet").text().set("true");
    for (const auto& k : batch) del.append_child("Object").append_child("Key").text().set(k.c_str());
    std::string body = xml_text(doc);
    Response r;
    try {
      r = expect("POST", "", {{"delete", ""}}, {"Content-Type: application/xml", "Content-MD5: " + md5_base64(body)}, body);
    } catch (const Error& e) {  // say what was being deleted: keys that may not delete meet it here
      throw Error(e.code(), "deleting " + std::to_string(batch.size()) + " object" + (batch.size() == 1 ? "" : "s") + " (" +
                                describe(batch.front()) + (batch.size() == 1 ? "" : " …") + "): " + e.what());
    }
    auto doc2 = parse_xml(r.body, "batch delete in " + describe(""));
    if (auto err = doc2.child("DeleteResult").child("Error"))
      throw Error(ErrorCode::Io, "DELETE " + describe(err.child_value("Key")) + ": " + err.child_value("Code") + ": " +
                                     err.child_value("Message"));
    batch.clear();
  };
  for (const auto& k : keys) {
    if (!xml_safe(k)) {
      remove(k);  // XML cannot carry it: one request of its own
      continue;
    }
    batch.push_back(k);
    if (batch.size() == 1000) flush();
  }
  flush();
}

Listing Client::list(const std::string& prefix, const std::string& delimiter, const std::string& start_after) {
  Listing out;
  std::string token;
  for (;;) {
    Query q = {{"list-type", "2"}, {"prefix", prefix}, {"encoding-type", "url"}};
    if (!delimiter.empty()) q.push_back({"delimiter", delimiter});
    if (!start_after.empty() && token.empty()) q.push_back({"start-after", start_after});
    if (!token.empty()) q.push_back({"continuation-token", token});
    Response r = expect("GET", "", q, {}, "");
    auto doc = parse_xml(r.body, "listing " + describe(prefix));
    auto res = doc.child("ListBucketResult");
    const bool encoded = std::string(res.child_value("EncodingType")) == "url";
    auto key_of = [&](const char* v) { return encoded ? uri_decode(v) : std::string(v); };
    for (auto c : res.children("Contents"))
      out.objects.push_back({key_of(c.child_value("Key")), std::strtoull(c.child_value("Size"), nullptr, 10),
                             parse_time(c.child_value("LastModified"))});
    for (auto p : res.children("CommonPrefixes")) out.common_prefixes.push_back(key_of(p.child_value("Prefix")));
    if (std::string(res.child_value("IsTruncated")) != "true") break;
    token = res.child_value("NextContinuationToken");
    if (token.empty()) break;
  }
  return out;
}

std::vector<ObjectVersion> Client::list_versions(const std::string& prefix) {
  std::vector<ObjectVersion> out;
  std::string key_marker, version_marker;
  for (;;) {
    Query q = {{"versions", ""}, {"prefix", prefix}, {"encoding-type", "url"}};
    if (!key_marker.empty()) q.push_back({"key-marker", key_marker});
    if (!version_marker.empty()) q.push_back({"version-id-marker", version_marker});
    Response r = expect("GET", "", q, {}, "");
    auto doc = parse_xml(r.body, "listing the versions of " + describe(prefix));
    auto res = doc.child("ListVersionsResult");
    const bool encoded = std::string(res.child_value("EncodingType")) == "url";
    auto key_of = [&](const char* v) { return encoded ? uri_decode(v) : std::string(v); };
    for (auto c : res.children()) {
      const std::string kind = c.name();
      if (kind != "Version" && kind != "DeleteMarker") continue;
      out.push_back({key_of(c.child_value("Key")), c.child_value("VersionId"),
                     std::string(c.child_value("IsLatest")) == "true", kind == "DeleteMarker",
                     std::strtoull(c.child_value("Size"), nullptr, 10),
                     std::chrono::duration_cast<std::chrono::seconds>(
                         parse_time(c.child_value("LastModified")).time_since_epoch())
                         .count()});
    }
    if (std::string(res.child_value("IsTruncated")) != "true") break;
    key_marker = key_of(res.child_value("NextKeyMarker"));
    version_marker = res.child_value("NextVersionIdMarker");
    if (key_marker.empty()) break;
  }
  return out;
}

bool Client::remove_version(const std::string& key, const std::string& version_id) {
  Response r = send("DELETE", key, {{"versionId", version_id}}, {}, "");
  if (r.status == 403 && ascii_lower(r.body).find("object lock") != std::string::npos) return false;  // locked
  checked(std::move(r), "DELETE", key, {200, 204, 404});
  return true;
}

std::string Client::create_upload(const std::string& key, const Retention* lock) {
  std::vector<std::string> headers = {"Content-Type: application/octet-stream"};
  for (auto& h : lock_headers(lock)) headers.push_back(std::move(h));
  Response r = expect("POST", key, {{"uploads", ""}}, headers, "");
  auto doc = parse_xml(r.body, "starting an upload of " + describe(key));
  std::string id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (id.empty()) throw Error(ErrorCode::Io, "POST " + describe(key) + "?uploads: no UploadId in the answer");
  return id;
}

std::string Client::upload_part(const std::string& key, const std::string& upload_id, int part_number,
                                std::string_view data) {
  Response r = expect("PUT", key, {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}},
                      {"Content-MD5: " + md5_base64(data)}, data);
  std::string etag = r.header("etag");
  if (etag.empty())
    throw Error(ErrorCode::Io, "PUT " + describe(key) + " part " + std::to_string(part_number) + ": no ETag in the answer");
  return etag;
}

void Client::complete_upload(const std::string& key, const std::string& upload_id, const std::vector<std::string>& etags) {
  pugi::xml_document doc;
  auto root = doc.append_child("CompleteMultipartUpload");
  for (std::size_t i = 0; i < etags.size(); ++i) {
    auto p = root.append_child("Part");
    p.append_child("PartNumber").text().set(static_cast<unsigned>(i + 1));
    p.append_child("ETag").text().set(etags[i].c_str());
  }
  std::string body = xml_text(doc);
  Response r = send("POST", key, {{"uploadId", upload_id}}, {"Content-Type: application/xml"}, body);
  if (r.status == 404 && s3_error(r.body) == "NoSuchUpload") {
    // A retry after an answer that was lost on the way: the first attempt completed the
    // upload. It did if the object now has exactly the ETag these parts make.
    Response h = send("HEAD", key, {}, {}, "");
    std::string etag = h.header("etag");
    etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
    if (h.status == 200 && etag == multipart_etag(etags, "completing the upload of " + describe(key))) return;
  }
  r = checked(std::move(r), "POST", key, {200});
  // S3 may answer 200 and still fail: the error is then in the body.
  std::string err = s3_error(r.body);
  if (!err.empty()) throw Error(ErrorCode::Io, "completing the upload of " + describe(key) + ": " + err);
}

void Client::abort_upload(const std::string& key, const std::string& upload_id) {
  expect("DELETE", key, {{"uploadId", upload_id}}, {}, "", {200, 204, 404});
}

std::vector<Upload> Client::list_uploads(const std::string& prefix) {
  std::vector<Upload> out;
  std::string key_marker, id_marker;
  for (;;) {
    Query q = {{"uploads", ""}, {"prefix", prefix}, {"encoding-type", "url"}};
    if (!key_marker.empty()) q.push_back({"key-marker", key_marker});
    if (!id_marker.empty()) q.push_back({"upload-id-marker", id_marker});
    Response r = expect("GET", "", q, {}, "");
    auto doc = parse_xml(r.body, "listing the uploads under " + describe(prefix));
    auto res = doc.child("ListMultipartUploadsResult");
    const bool encoded = std::string(res.child_value("EncodingType")) == "url";
    for (auto u : res.children("Upload"))
      out.push_back({encoded ? uri_decode(u.child_value("Key")) : u.child_value("Key"), u.child_value("UploadId")});
    if (std::string(res.child_value("IsTruncated")) != "true") break;
    key_marker = res.child_value("NextKeyMarker");
    id_marker = res.child_value("NextUploadIdMarker");
    if (key_marker.empty() && id_marker.empty()) break;
  }
  return out;
}

std::chrono::system_clock::time_point Client::server_time() {
  // An answer made by something in between (a 503 of a proxy or balancer, a cut-off head)
  // may carry no Date: asked again, as any failed request is.
  for (int attempt = 1;; ++attempt) {
    Response r = send("HEAD", "", {}, {}, "");
    auto t = parse_time(r.header("date"));
    if (t != std::chrono::system_clock::time_point{}) return t;
    if (attempt >= 5)
      throw Error(ErrorCode::Io, "HEAD " + describe("") + ": no usable Date header in the answer (" +
                                     std::to_string(attempt) + " tries)");
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
  }
}

void DestinationHealth::answered() {
  std::lock_guard<std::mutex> lock(mu_);
  streak_.reset();
}

bool DestinationHealth::failed_attempt(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!dead_.empty()) return true;
  const auto now = std::chrono::steady_clock::now();
  if (!streak_) {
    streak_ = now;
    streak_started_at_ = utc_now_rfc3339();
  }
  if (now - *streak_ < dead_after_) return false;
  dead_ = "the destination stopped answering at " + streak_started_at_ + " (nothing but failures for " +
          std::to_string(dead_after_.count()) + " s, the last: " + what + ")";
  return true;
}

std::string DestinationHealth::dead() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dead_;
}

namespace {

// What a URL may not ask for without saying so: the whole bucket, plain http to another
// machine; and settings that only go together.
void refuse_unsafe(const Url& out, const std::string& url) {
  if (out.prefix.empty() && !out.allow_whole_bucket)
    throw Error(ErrorCode::Usage,
                url + ": no prefix — gitvault would take every object of bucket '" + out.endpoint.bucket +
                    "' for its own (prune removes what no backup names, other tools' objects included). Give one "
                    "(s3://" + out.endpoint.bucket + "/gitvault), or set allow_whole_bucket = true if the bucket "
                    "holds nothing else");
  if (out.endpoint.url.rfind("http://", 0) == 0 && !is_loopback_url(out.endpoint.url) && !out.allow_insecure_http)
    throw Error(ErrorCode::Usage,
                url + ": endpoint " + out.endpoint.url + " is plain http to another machine — every repository "
                    "and any session token would cross the network in the clear, and records could be rewritten "
                    "on the way. Use https://, or set allow_insecure_http = true to accept that risk");
  if (out.object_lock.empty() != (out.lock_for == 0))
    throw Error(ErrorCode::Usage, url + ": object_lock and lock_for go together (object_lock = \"governance\" or "
                                        "\"compliance\", lock_for = \"35d\")");
}

}  // namespace

Url parse_url(const std::string& url) {
  const std::string scheme = "s3://";
  if (url.rfind(scheme, 0) != 0) throw Error(ErrorCode::Usage, "not an s3:// URL: " + url);
  std::string rest = url.substr(scheme.size()), query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  Url out;
  auto slash = rest.find('/');
  out.endpoint.bucket = rest.substr(0, slash);
  if (out.endpoint.bucket.size() < 3)
    throw Error(ErrorCode::Usage, url + ": the bucket name must have at least 3 characters");
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  out.prefix = prefix;
  int dead_after = 45;
  std::stringstream ss(query);
  std::string kv;
  while (std::getline(ss, kv, '&')) {
    if (kv.empty()) continue;
    auto eq = kv.find('=');
    std::string k = uri_decode(kv.substr(0, eq)), v = eq == std::string::npos ? "" : uri_decode(kv.substr(eq + 1));
    if (k == "endpoint") {
      if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0)
        throw Error(ErrorCode::Usage, url + ": endpoint must start with http:// or https://");
      while (!v.empty() && v.back() == '/') v.pop_back();
      out.endpoint.url = v;
    } else if (k == "region") {
      out.endpoint.region = v;
    } else if (k == "use_path_style" || k == "s3ForcePathStyle") {
      out.endpoint.path_style = v == "true" || v == "1";
    } else if (k == "part_size") {
      out.part_size = std::strtoull(v.c_str(), nullptr, 10);
      if (out.part_size < (5u << 20) || out.part_size > (5ull << 30))
        throw Error(ErrorCode::Usage, url + ": part_size must be between 5 MiB and 5 GiB (in bytes)");
    } else if (k == "parts_in_flight") {
      out.parts_in_flight = std::atoi(v.c_str());
      if (out.parts_in_flight < 1 || out.parts_in_flight > 64)
        throw Error(ErrorCode::Usage, url + ": parts_in_flight must be between 1 and 64");
    } else if (k == "object_lock") {
      std::string mode = v;
      for (char& c : mode) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (mode != "GOVERNANCE" && mode != "COMPLIANCE")
        throw Error(ErrorCode::Usage, url + ": object_lock must be governance or compliance");
      out.object_lock = mode;
    } else if (k == "as_of") {
      out.as_of = std::atoll(v.c_str());
      if (out.as_of <= 0) throw Error(ErrorCode::Usage, url + ": as_of must be a time (Unix seconds)");
    } else if (k == "lock_for") {
      out.lock_for = parse_duration(v);
    } else if (k == "lease_seconds") {
      out.lease_seconds = std::atoi(v.c_str());
      if (out.lease_seconds < 3) throw Error(ErrorCode::Usage, url + ": lease_seconds must be at least 3");
    } else if (k == "request_timeout") {
      out.endpoint.request_timeout = std::chrono::seconds(std::atoi(v.c_str()));
      if (out.endpoint.request_timeout.count() < 1) throw Error(ErrorCode::Usage, url + ": request_timeout must be at least 1 (seconds)");
    } else if (k == "dead_after") {
      dead_after = std::atoi(v.c_str());
      if (dead_after < 1) throw Error(ErrorCode::Usage, url + ": dead_after must be at least 1 (seconds)");
    } else if (k == "ca_file") {
      out.endpoint.ca_file = v;
    } else if (k == "allow_whole_bucket" || k == "allow_insecure_http") {
      if (v != "true" && v != "false") throw Error(ErrorCode::Usage, url + ": " + k + " must be true or false");
      (k == "allow_whole_bucket" ? out.allow_whole_bucket : out.allow_insecure_http) = v == "true";
    } else {
      throw Error(ErrorCode::Usage, url + ": unknown parameter '" + k + "' (endpoint, region, use_path_style, object_lock, lock_for, ...)");
    }
  }
  out.endpoint.health = std::make_shared<DestinationHealth>(std::chrono::seconds(dead_after));
  refuse_unsafe(out, url);
  return out;
}

bool is_loopback_url(const std::string& endpoint) {
  std::string rest = endpoint.substr(endpoint.find("://") == std::string::npos ? 0 : endpoint.find("://") + 3);
  rest = rest.substr(0, rest.find('/'));
  if (auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  std::string host;
  if (!rest.empty() && rest.front() == '[') {
    host = rest.substr(1, rest.find(']') == std::string::npos ? std::string::npos : rest.find(']') - 1);
  } else {
    host = rest.substr(0, rest.find(':'));
  }
  host = ascii_lower(host);
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8, written as four decimal numbers
  unsigned a, b, c, d;
  char tail;
  return std::sscanf(host.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 &&
         d < 256;
}

}  // namespace gitvault::s3
