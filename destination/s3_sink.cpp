#include "destination/s3_sink.h"

#include "destination/as_of_sink.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
#include "base/system.h"

namespace gitvault {

struct S3Sink::LeaseState {
  std::atomic<bool> lost{false};
  std::mutex mu;
  std::string why;  // guarded by mu
  void lose(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu);
    if (lost) return;
    why = reason;
    lost = true;
  }
  std::string reason() {
    std::lock_guard<std::mutex> lock(mu);
    return why;
  }
};

namespace {

constexpr const char* kHolders = "+gitvault/holders/";
constexpr const char* kExclusive = "+gitvault/lock.exclusive";

class S3Writer : public SinkWriter {
 public:
  // `check_lease` throws once the run's lease is lost: a part or a file is never sent after.
  S3Writer(s3::Client& client, const s3::Url& url, s3::Credentials credentials, std::string key,
           std::function<void()> check_lease)
      : client_(client), url_(url), credentials_(std::move(credentials)), key_(std::move(key)),
        part_size_(url.part_size), check_lease_(std::move(check_lease)) {}
  ~S3Writer() override {
    for (auto& part : in_flight_) {
      try {
        part.get();
      } catch (...) {
        // The upload is aborted below.
      }
    }
    if (committed_ || upload_id_.empty()) return;
    try {
      client_.abort_upload(key_, upload_id_);
    } catch (...) {
      // Left for `gitvault prune` (remove_unfinished_writes), which aborts it.
    }
  }
  void write(const void* data, std::size_t size) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      std::size_t n = std::min<std::size_t>(size, part_size_ - buffer_.size());
      buffer_.append(p, n);
      p += n;
      size -= n;
      if (buffer_.size() == part_size_) send_part();
    }
  }
  void commit() override {
    check_lease_();
    if (upload_id_.empty()) {
      client_.put(key_, buffer_, retention());  // small: one PUT
    } else {
      if (!buffer_.empty()) send_part();
      while (!in_flight_.empty()) collect_oldest();
      client_.complete_upload(key_, upload_id_, etags_);
    }
    buffer_.clear();
    committed_ = true;
  }

 private:
  // A full part goes up: in this thread when one part at a time is allowed, else on a thread
  // (and a connection) of its own while the next part fills, at most parts_in_flight parts
  // in memory in all. A part that failed fails the write that waits for it.
  void send_part() {
    check_lease_();
    if (upload_id_.empty()) upload_id_ = client_.create_upload(key_, retention());
    const int number = ++parts_;
    if (url_.parts_in_flight <= 1) {
      etags_.push_back(client_.upload_part(key_, upload_id_, number, buffer_));
      buffer_.clear();
      return;
    }
    while (static_cast<int>(in_flight_.size()) >= url_.parts_in_flight - 1) collect_oldest();
    auto data = std::make_shared<std::string>(std::move(buffer_));
    buffer_ = std::string();
    in_flight_.push_back(std::async(std::launch::async, [endpoint = url_.endpoint, credentials = credentials_,
                                                         key = key_, id = upload_id_, number, data] {
      s3::Client own(endpoint, credentials);
      return own.upload_part(key, id, number, *data);
    }));
  }
  // With Object Lock configured, every object is written locked for lock_for from when its
  // write began (docs/object-storage.md, "Object Lock").
  const s3::Retention* retention() {
    if (url_.object_lock.empty()) return nullptr;
    if (!retention_)
      retention_ = s3::Retention{url_.object_lock, std::chrono::duration_cast<std::chrono::seconds>(
                                                       std::chrono::system_clock::now().time_since_epoch())
                                                           .count() +
                                                       url_.lock_for};
    return &*retention_;
  }
  void collect_oldest() {
    std::future<std::string> part = std::move(in_flight_.front());
    in_flight_.pop_front();
    etags_.push_back(part.get());
  }
  s3::Client& client_;
  const s3::Url& url_;
  const s3::Credentials credentials_;
  const std::string key_;
  const std::uint64_t part_size_;
  const std::function<void()> check_lease_;
  std::string buffer_;
  std::string upload_id_;
  int parts_ = 0;
  std::deque<std::future<std::string>> in_flight_;  // parts going up, oldest first
  std::vector<std::string> etags_;
  bool committed_ = false;
  std::optional<s3::Retention> retention_;
};

class S3Reader : public ByteReader {
 public:
  // `first`: the first chunk; every later one is pinned to its ETag (If-Match) and must be
  // exactly as long as asked for, so a reader never splices two versions of an object or
  // takes a short answer for its end.
  S3Reader(s3::Client& client, std::string key, std::string name, std::uint64_t chunk, s3::Client::RangeRead first,
           std::string version_id = "")
      : client_(client), key_(std::move(key)), name_(std::move(name)), chunk_(chunk), buffer_(std::move(first.data)),
        etag_(std::move(first.etag)), version_id_(std::move(version_id)), size_(first.object_size),
        next_offset_(buffer_.size()) {}
  std::size_t read(void* buf, std::size_t size) override {
    if (pos_ == buffer_.size()) {
      if (next_offset_ >= size_) return 0;
      auto got = client_.read_range(key_, next_offset_, chunk_, etag_, version_id_);
      if (!got) throw Error(ErrorCode::NotFound, name_ + ": removed while being read");
      if (got->object_size != size_)
        throw Error(ErrorCode::Io, name_ + ": its size changed while being read (" + std::to_string(size_) + " -> " +
                                       std::to_string(got->object_size) + " bytes)");
      buffer_ = std::move(got->data);
      pos_ = 0;
      next_offset_ += buffer_.size();
      if (buffer_.empty()) throw Error(ErrorCode::Io, name_ + ": an empty answer before the end of the object");
    }
    std::size_t n = std::min(size, buffer_.size() - pos_);
    std::copy_n(buffer_.data() + pos_, n, static_cast<char*>(buf));
    pos_ += n;
    return n;
  }
  const std::string& name() const override { return name_; }

 private:
  s3::Client& client_;
  const std::string key_, name_;
  const std::uint64_t chunk_;
  std::string buffer_;
  const std::string etag_;
  const std::string version_id_;  // a version of the object (AsOfSink), or "" for the current one
  const std::uint64_t size_;
  std::size_t pos_ = 0;
  std::uint64_t next_offset_;
};

// The lease of one run (docs/locking.md): its holder object (and, for a writer, the
// exclusive object), renewed every lease/3 by a thread of its own. A renewal reads the lease
// and rewrites it only while it is still this run's (its text), conditionally on the ETag it
// read (If-Match): a lease another run took over is never overwritten. Each attempt has a
// deadline shorter than the lease; when no renewal has succeeded for lease - lease/3, or the
// lease is no longer this run's, the lease is lost: the sink refuses every write and
// removal from then on (S3Sink::check_lease), and release leaves the objects alone.
// Released, it removes only objects that still hold this run's text.
class S3Lease : public SinkLock {
 public:
  S3Lease(const s3::Url& url, s3::Credentials credentials, std::vector<std::string> keys, std::string text,
          std::vector<LockHolder> dead, std::shared_ptr<S3Sink::LeaseState> state)
      : client_(renewer_endpoint(url), credentials, renewer_tuning()),
        keys_(std::move(keys)),
        text_(std::move(text)),
        dead_(std::move(dead)),
        lease_(std::chrono::seconds(url.lease_seconds)),
        period_(std::chrono::seconds(url.lease_seconds) / 3),
        state_(std::move(state)) {
    renewer_ = std::thread([this] { renew_until_released(); });
  }
  ~S3Lease() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    renewer_.join();
    if (state_->lost) return;  // another run's now, or unknown: left alone (it expires)
    for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
      try {
        auto r = client_.send("GET", *it, {}, {}, "");
        if (r.status == 200 && r.body == text_) client_.remove(*it);
      } catch (...) {
        // It expires on its own.
      }
    }
  }
  const std::vector<LockHolder>& dead_holders() const override { return dead_; }
  std::string lost() const override { return state_->lost ? state_->reason() : ""; }

 private:
  // Each request of the renewer may take a third of the period at most, and is tried twice:
  // a stalled gateway cannot hold a renewal past the lease.
  static s3::Endpoint renewer_endpoint(const s3::Url& url) {
    s3::Endpoint e = url.endpoint;
    e.request_timeout = std::max(std::chrono::seconds(1), std::chrono::seconds(url.lease_seconds) / 9);
    return e;
  }
  static s3::Tuning renewer_tuning() {
    s3::Tuning t;
    t.max_attempts = 2;
    t.connect_timeout = std::chrono::seconds(2);
    t.low_speed_time = std::chrono::seconds(5);
    return t;
  }
  enum class Renewal { Renewed, NotOurs, Failed };
  Renewal renew(const std::string& key) {
    try {
      s3::Response r = client_.send("GET", key, {}, {}, "");
      if (r.status == 404 || (r.status == 200 && r.body != text_)) return Renewal::NotOurs;
      if (r.status != 200) return Renewal::Failed;
      std::vector<std::string> headers;
      // radosgw compares If-Match with the bare digest: the ETag without its quotes.
      std::string etag = r.header("etag");
      etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
      if (!etag.empty()) headers.push_back("If-Match: " + etag);
      s3::Response w = client_.send("PUT", key, {}, headers, text_);
      if (w.status == 412) {
        // radosgw refuses If-Match on a PUT into a versioned bucket (Object Lock makes one)
        // even when it matches: the lease is renewed unconditionally if it is still this
        // run's, a window of one request in which a takeover could be overwritten.
        s3::Response again = client_.send("GET", key, {}, {}, "");
        if (again.status != 200 || again.body != text_ || again.header("etag") != r.header("etag"))
          return Renewal::NotOurs;
        w = client_.send("PUT", key, {}, {}, text_);
      }
      return w.status == 200 ? Renewal::Renewed : Renewal::Failed;
    } catch (...) {
      return Renewal::Failed;
    }
  }
  void renew_until_released() {
    auto last_renewed = std::chrono::steady_clock::now();
    std::string first_failure;  // UTC time of the first failed renewal since the last success
    auto wait = period_;
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, wait, [this] { return released_; })) {
      lock.unlock();
      const std::string round_started = utc_now_rfc3339();
      bool all = true;
      for (const auto& k : keys_) {
        Renewal r = renew(k);
        if (r == Renewal::NotOurs) {
          state_->lose("the lease " + client_.describe(k) + " is no longer this run's (another run took it over)");
          return;
        }
        all = all && r == Renewal::Renewed;
      }
      const auto now = std::chrono::steady_clock::now();
      if (all) {
        last_renewed = now;
        first_failure.clear();
        wait = period_;
      } else if (first_failure.empty()) {
        first_failure = round_started;
      }
      if (!all && now - last_renewed >= lease_ - period_) {
        // The same words as a destination found dead by its requests (s3::DestinationHealth).
        const auto s = std::chrono::duration_cast<std::chrono::seconds>(now - last_renewed).count();
        state_->lose("the destination stopped answering at " + first_failure + ": the lease could not be renewed for " +
                     std::to_string(s) + " s (it lasts " + std::to_string(lease_.count()) +
                     " s), so another run may take it over");
        return;
      }
      if (!all) {
        wait = std::min<std::chrono::milliseconds>(period_, std::chrono::milliseconds(500));  // retry soon
      }
      lock.lock();
    }
  }
  s3::Client client_;  // the renewer's own (a client belongs to one thread)
  const std::vector<std::string> keys_;
  const std::string text_;
  const std::vector<LockHolder> dead_;
  const std::chrono::seconds lease_;
  const std::chrono::milliseconds period_;
  const std::shared_ptr<S3Sink::LeaseState> state_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;  // guarded by mu_
  std::thread renewer_;
};

// Object keys must be UTF-8 (radosgw refuses others: InvalidObjectName), and control
// characters do not survive every tool. A sink name becomes a key with '%XX' for each byte
// that is not part of valid UTF-8, each control character and '%' itself; everything else,
// nearly every real name, stays as it is. Reversible: decode_name(encode_name(n)) == n.
std::string encode_name(const std::string& name) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  std::size_t i = 0;
  while (i < name.size()) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len > 1 && i + len <= name.size() && is_valid_utf8(std::string_view(name).substr(i, len))) {
      out.append(name, i, len);
      i += len;
      continue;
    }
    if (len == 1 && c >= 0x20 && c != 0x7f && c != '%') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
    ++i;
  }
  return out;
}

std::string decode_name(const std::string& key) {
  std::string out;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (key[i] == '%' && i + 2 < key.size() + 0 && std::isxdigit(static_cast<unsigned char>(key[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(key[i + 2]))) {
      out += static_cast<char>(std::stoi(key.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += key[i];
    }
  }
  return out;
}

}  // namespace

struct S3Sink::Clients {
  std::mutex mu;
  std::map<std::thread::id, std::unique_ptr<s3::Client>> by_thread;  // guarded by mu
};

S3Sink::S3Sink(s3::Url url, s3::Credentials credentials)
    : url_(std::move(url)), credentials_(std::move(credentials)), clients_(std::make_unique<Clients>()),
      lease_state_(std::make_shared<LeaseState>()) {}

std::string S3Sink::unreachable() { return url_.endpoint.health ? url_.endpoint.health->dead() : ""; }

void S3Sink::check_lease() const {
  if (lease_state_->lost)
    throw Error(ErrorCode::Io, "this run lost its lock on " + describe("") + " (" + lease_state_->reason() +
                                   "): nothing more is written or removed there");
}

S3Sink::~S3Sink() = default;

s3::Client& S3Sink::client() {
  std::lock_guard<std::mutex> lock(clients_->mu);
  auto& c = clients_->by_thread[std::this_thread::get_id()];
  if (!c) c = std::make_unique<s3::Client>(url_.endpoint, credentials_);
  return *c;
}

std::string S3Sink::key(const std::string& name) const {
  if (url_.prefix.empty()) return encode_name(name);
  return name.empty() ? url_.prefix : url_.prefix + "/" + encode_name(name);
}

std::string S3Sink::describe(const std::string& name) const {
  std::string where = url_.prefix.empty() ? name : name.empty() ? url_.prefix : url_.prefix + "/" + name;
  return "s3://" + url_.endpoint.bucket + "/" + where;
}

std::unique_ptr<SinkWriter> S3Sink::create(const std::string& name) {
  check_sink_name(name);
  check_lease();
  return std::make_unique<S3Writer>(client(), url_, credentials_, key(name), [this] { check_lease(); });
}

std::unique_ptr<ByteReader> S3Sink::open(const std::string& name) {
  check_sink_name(name);
  auto first = client().read_range(key(name), 0, url_.part_size);
  if (!first) throw Error(ErrorCode::NotFound, describe(name) + ": no such object");
  return std::make_unique<S3Reader>(client(), key(name), describe(name), url_.part_size, std::move(*first));
}

std::vector<s3::ObjectVersion> S3Sink::versions() {
  std::string p = key("");
  if (!p.empty()) p += "/";
  std::vector<s3::ObjectVersion> out;
  for (auto& v : client().list_versions(p)) {
    v.key = decode_name(v.key.substr(p.size()));
    try {
      check_sink_name(v.key);  // as list_recursive: names gitvault cannot have written are not read
    } catch (const Error&) {
      continue;
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::unique_ptr<ByteReader> S3Sink::open_version(const std::string& name, const std::string& version_id) {
  auto first = client().read_range(key(name), 0, url_.part_size, "", version_id);
  if (!first) throw Error(ErrorCode::NotFound, describe(name) + " (version " + version_id + "): no such object");
  return std::make_unique<S3Reader>(client(), key(name), describe(name), url_.part_size, std::move(*first), version_id);
}

FilePeek S3Sink::peek_version(const std::string& name, const std::string& version_id, std::size_t head,
                              std::size_t tail) {
  auto first = client().read_range(key(name), 0, std::max<std::size_t>(head, 1), "", version_id);
  if (!first) throw Error(ErrorCode::NotFound, describe(name) + " (version " + version_id + "): no such object");
  FilePeek out;
  out.size = first->object_size;
  out.head = first->data.substr(0, head);
  const std::uint64_t t = std::min<std::uint64_t>(tail, out.size);
  if (t > 0) {
    auto last = client().read_range(key(name), out.size - t, t, "", version_id);
    if (!last) throw Error(ErrorCode::NotFound, describe(name) + " (version " + version_id + "): no such object");
    out.tail = std::move(last->data);
  }
  return out;
}

FilePeek S3Sink::peek(const std::string& name, std::size_t head, std::size_t tail) {
  check_sink_name(name);
  auto first = client().get_range(key(name), 0, head);
  if (!first) throw Error(ErrorCode::NotFound, describe(name) + ": no such object");
  FilePeek out;
  if (first->size() < head) {  // the whole object
    out.size = first->size();
    out.tail = first->substr(first->size() - std::min(tail, first->size()));
    out.head = std::move(*first);
    return out;
  }
  auto size = client().head(key(name));
  if (!size) throw Error(ErrorCode::NotFound, describe(name) + ": no such object");
  out.size = *size;
  out.head = std::move(*first);
  const std::uint64_t t = std::min<std::uint64_t>(tail, out.size);
  if (t > 0) {
    auto last = client().get_range(key(name), out.size - t, t);
    if (!last) throw Error(ErrorCode::NotFound, describe(name) + ": no such object");
    out.tail = std::move(*last);
  }
  return out;
}

bool S3Sink::exists(const std::string& name) {
  check_sink_name(name);
  return client().head(key(name)).has_value();
}

std::vector<std::string> S3Sink::list(const std::string& prefix) { return list_after(prefix, ""); }

std::vector<std::string> S3Sink::list_after(const std::string& prefix, const std::string& after) {
  std::string p = key(prefix);
  if (!p.empty()) p += "/";
  // Keys sort as names do for every name encode_name leaves as it is (ids, record names); the
  // filter below keeps the answer exact for the others.
  s3::Listing l = client().list(p, "/", after.empty() ? "" : p + encode_name(after));
  std::vector<std::string> out;
  for (const auto& o : l.objects) out.push_back(decode_name(o.key.substr(p.size())));
  for (auto cp : l.common_prefixes) {
    cp = cp.substr(p.size());
    if (!cp.empty() && cp.back() == '/') cp.pop_back();
    out.push_back(decode_name(cp));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (!after.empty()) out.erase(out.begin(), std::upper_bound(out.begin(), out.end(), after));
  return out;
}

std::vector<std::string> S3Sink::list_recursive(const std::string& prefix) {
  std::vector<std::string> out;
  for (auto& f : list_recursive_sized(prefix)) out.push_back(std::move(f.name));
  return out;
}

std::vector<ListedFile> S3Sink::list_recursive_sized(const std::string& prefix) {
  std::string p = key(prefix);
  if (!p.empty()) p += "/";
  std::vector<ListedFile> out;
  std::string mine = key("");
  std::size_t strip = mine.empty() ? 0 : mine.size() + 1;
  for (const auto& o : client().list(p).objects) {
    // Keys from a listing are held to the rules of names gitvault writes ("a/../b", "a//b"
    // and the like are another tool's, or an attack: never read, kept or removed as ours).
    std::string name = decode_name(o.key.substr(strip));
    try {
      check_sink_name(name);
    } catch (const Error&) {
      continue;
    }
    out.push_back({std::move(name), o.size});
  }
  return out;
}

void S3Sink::remove(const std::string& name) {
  check_sink_name(name);
  check_lease();
  client().remove(key(name));
}

void S3Sink::remove_many(const std::vector<std::string>& names) {
  check_lease();
  std::vector<std::string> keys;
  for (const auto& n : names) {
    check_sink_name(n);
    keys.push_back(key(n));
  }
  client().remove_many(keys);
}

std::size_t S3Sink::remove_unfinished_writes(const std::function<bool(const std::string&)>& ours) {
  check_lease();
  std::string p = key("");
  if (!p.empty()) p += "/";
  std::size_t n = 0;
  for (const auto& u : client().list_uploads(p)) {
    if (!ours(decode_name(u.key.substr(p.size())))) continue;
    client().abort_upload(u.key, u.upload_id);
    ++n;
  }
  return n;
}

// The first request of every run: a destination that cannot be used stops the run before
// any work (Error(Config), exit 2), saying which: endpoint unreachable, bucket missing, or
// credentials refused (the client's own wording for 401/403).
void S3Sink::extend_lock(const std::string& name, std::int64_t until) {
  if (url_.object_lock.empty()) return;
  check_lease();
  s3::Client& c = client();
  const std::string k = key(name);
  try {
    c.put_retention(k, {url_.object_lock, until});  // one request when it extends
  } catch (const Error&) {
    // Refused: a lock that reaches further already (the server never shortens one) is fine.
    if (auto now = c.get_retention(k); now && now->until >= until) return;
    throw;
  }
}

OldVersions S3Sink::remove_old_versions(const std::function<bool(const std::string&)>& ours, bool dry_run) {
  OldVersions out;
  if (url_.object_lock.empty()) return out;
  check_lease();
  s3::Client& c = client();
  std::string prefix = key("");
  if (!prefix.empty()) prefix += "/";
  std::map<std::string, std::vector<s3::ObjectVersion>> by_key;
  for (auto& v : c.list_versions(prefix)) by_key[v.key].push_back(std::move(v));
  for (const auto& [k, versions] : by_key) {
    const bool removed = std::any_of(versions.begin(), versions.end(),
                                     [](const s3::ObjectVersion& v) { return v.latest && v.delete_marker; });
    if (!removed || !ours(decode_name(k.substr(prefix.size())))) continue;
    bool all_gone = true;
    for (const auto& v : versions) {
      if (v.delete_marker) continue;
      if (!dry_run && c.remove_version(k, v.version_id)) {
        ++out.removed;
        continue;
      }
      all_gone = false;
      ++out.locked;
      out.locked_bytes += v.size;
    }
    if (all_gone && !dry_run)
      for (const auto& v : versions)
        if (v.delete_marker) c.remove_version(k, v.version_id);
  }
  return out;
}

void S3Sink::check_usable() {
  if (usable_checked_) return;
  s3::Response r;
  try {
    r = client().send("GET", "", {{"max-keys", "1"}, {"prefix", key("")}}, {}, "");  // an error body names S3's code
  } catch (const Error& e) {
    throw Error(ErrorCode::Config, "cannot reach the S3 endpoint " + url_.endpoint.url + " of " + describe("") + ": " +
                                       e.what() + " (is the endpoint right and the gateway running?)");
  }
  if (r.status == 404)
    throw Error(ErrorCode::Config, "the bucket '" + url_.endpoint.bucket + "' does not exist at " + url_.endpoint.url +
                                       " (GET " + describe("") + ": HTTP 404); create it or fix the URL");
  if (r.status == 301)
    throw Error(ErrorCode::Config, "GET " + describe("") + ": HTTP " + std::to_string(r.status) +
                                       " (wrong region or addressing style? use_path_style=true for radosgw)");
  client().checked(std::move(r), "GET", "", {200});  // 401/403 and any other: named, with its status
  if (!url_.object_lock.empty() && !client().object_lock_enabled())
    throw Error(ErrorCode::Config,
                "object_lock is set but bucket '" + url_.endpoint.bucket + "' has no Object Lock: every backup "
                "would be deletable by the keys that wrote it. Object Lock can only be enabled when a bucket is "
                "created: create one with it (aws s3api create-bucket --bucket NAME "
                "--object-lock-enabled-for-bucket; it is versioned) and point the backup path there, or remove "
                "object_lock (docs/object-storage.md, \"Object Lock\")");
  usable_checked_ = true;
}

std::unique_ptr<SinkLock> S3Sink::lock(const LockHolder& me, std::chrono::milliseconds wait, LockName name) {
  check_usable();
  // The pins are the same lease scheme under a prefix of their own.
  const std::string base = name == LockName::Pins ? "+gitvault/pins/" : "";
  const std::string holders_prefix = base.empty() ? std::string(kHolders) : base + "holders/";
  s3::Client& c = client();
  // The lease's length is in the lease: every reader judges it by the holder's own ttl.
  LockHolder holder = me;
  holder.ttl_seconds = url_.lease_seconds;
  const std::string text = holder_to_json_text(holder);
  const std::string mine = key(holders_prefix + me.host + "-" + std::to_string(me.pid) + "-" + unique_suffix() + ".json");
  // A scoped writer (one host of several) has an exclusive object of its own scope.
  const std::string exclusive_base = base.empty() ? std::string(kExclusive) : base + "lock.exclusive";
  const std::string exclusive_name = me.scope.empty() ? exclusive_base : exclusive_base + "." + me.scope;
  const std::string exclusive = key(exclusive_name);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::vector<LockHolder> dead;
  for (;;) {
    const auto now = c.server_time();
    // A holder written before leases said their length is judged by this run's setting.
    auto expired = [&](std::chrono::system_clock::time_point modified, const LockHolder& h) {
      return now - modified > std::chrono::seconds(h.ttl_seconds > 0 ? h.ttl_seconds : url_.lease_seconds);
    };
    std::vector<std::string> blockers;
    bool have_exclusive = false;
    if (me.mode == LockMode::Exclusive) {
      if (c.put_if_absent(exclusive, text)) {
        have_exclusive = true;
      } else if (auto got = c.get(exclusive); got && *got == text) {
        have_exclusive = true;  // our own create, whose answer was lost and retried
      } else if (auto modified = c.last_modified(exclusive);
                 modified && expired(*modified, holder_from_json_text(got.value_or(""), "lease"))) {
        dead.push_back(holder_from_json_text(got.value_or(""), "lease " + describe(exclusive_name)));
        c.remove(exclusive);  // a dead writer's: taken over
        continue;
      } else if (got) {
        blockers.push_back(holder_from_json_text(*got, "lease " + describe(exclusive_name)).describe());
      } else {
        continue;  // released meanwhile
      }
    }
    c.put(mine, text);  // published before checking the others: a reader and a writer never both proceed
    for (const auto& o : c.list(key(holders_prefix)).objects) {
      if (o.key == mine) continue;
      std::string body = c.get(o.key).value_or("");
      LockHolder h = holder_from_json_text(body, "lease s3://" + url_.endpoint.bucket + "/" + o.key);
      if (expired(o.last_modified, h)) {
        if (me.mode == LockMode::Exclusive || h.mode == LockMode::Shared) {
          c.remove(o.key);
          dead.push_back(h);
        }
        continue;
      }
      if (!me.compatible_with(h)) blockers.push_back(h.describe());
    }
    if (blockers.empty()) {
      std::vector<std::string> keys = {mine};
      if (have_exclusive) keys.push_back(exclusive);
      return std::make_unique<S3Lease>(url_, credentials_, keys, text, dead, lease_state_);
    }
    c.remove(mine);
    if (have_exclusive) c.remove(exclusive);
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string who;
      for (const auto& b : blockers) who += (who.empty() ? "" : "; ") + b;
      throw Error(ErrorCode::Locked, describe("") + " is in use by " + who + "; " + me.command + " needs it " +
                                         (me.mode == LockMode::Exclusive ? "exclusive" : "shared") +
                                         (wait.count() > 0 ? "; gave up waiting" : "; try again later or use --wait DURATION"));
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

std::unique_ptr<Sink> open_sink(const std::string& location) {
  if (location.rfind("s3://", 0) == 0) {
    s3::Url url = s3::parse_url(location);
    const std::int64_t as_of = url.as_of;
    auto sink = std::make_unique<S3Sink>(std::move(url), s3::credentials_from_environment());
    if (as_of > 0) return std::make_unique<AsOfSink>(std::move(sink), as_of);
    return sink;
  }
  if (location.rfind("file://", 0) == 0) return std::make_unique<LocalSink>(location.substr(7));
  if (auto colon = location.find("://"); colon != std::string::npos)
    throw Error(ErrorCode::Usage, "unknown backup destination scheme '" + location.substr(0, colon) + "://' in '" +
                                      location + "' (s3:// or a directory)");
  return std::make_unique<LocalSink>(location);
}

}  // namespace gitvault
