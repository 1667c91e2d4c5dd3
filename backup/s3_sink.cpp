#include "backup/s3_sink.h"

#include <algorithm>
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
namespace {

constexpr const char* kHolders = "+gitvault/holders/";
constexpr const char* kExclusive = "+gitvault/lock.exclusive";

class S3Writer : public SinkWriter {
 public:
  S3Writer(s3::Client& client, const s3::Url& url, s3::Credentials credentials, std::string key)
      : client_(client), url_(url), credentials_(std::move(credentials)), key_(std::move(key)),
        part_size_(url.part_size) {}
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
    if (upload_id_.empty()) {
      client_.put(key_, buffer_);  // small: one PUT
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
    if (upload_id_.empty()) upload_id_ = client_.create_upload(key_);
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
  std::string buffer_;
  std::string upload_id_;
  int parts_ = 0;
  std::deque<std::future<std::string>> in_flight_;  // parts going up, oldest first
  std::vector<std::string> etags_;
  bool committed_ = false;
};

class S3Reader : public ByteReader {
 public:
  S3Reader(s3::Client& client, std::string key, std::string name, std::uint64_t chunk, std::string first)
      : client_(client), key_(std::move(key)), name_(std::move(name)), chunk_(chunk), buffer_(std::move(first)),
        next_offset_(buffer_.size()), at_end_(buffer_.size() < chunk) {}
  std::size_t read(void* buf, std::size_t size) override {
    if (pos_ == buffer_.size()) {
      if (at_end_) return 0;
      auto got = client_.get_range(key_, next_offset_, chunk_);
      if (!got) throw Error(ErrorCode::NotFound, name_ + ": removed while being read");
      buffer_ = std::move(*got);
      pos_ = 0;
      next_offset_ += buffer_.size();
      at_end_ = buffer_.size() < chunk_;
      if (buffer_.empty()) return 0;
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
  std::size_t pos_ = 0;
  std::uint64_t next_offset_;
  bool at_end_;
};

// The lease of one run (docs/locking.md): its holder object (and, for a writer, the
// exclusive object) rewritten every lease/3 by a thread of its own, removed on release.
class S3Lease : public SinkLock {
 public:
  S3Lease(s3::Url url, s3::Credentials credentials, std::vector<std::string> keys, std::string text,
          std::vector<LockHolder> dead)
      : client_(url.endpoint, credentials), keys_(std::move(keys)), text_(std::move(text)), dead_(std::move(dead)),
        period_(std::chrono::seconds(url.lease_seconds) / 3) {
    renewer_ = std::thread([this] { renew_until_released(); });
  }
  ~S3Lease() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    renewer_.join();
    for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
      try {
        client_.remove(*it);
      } catch (...) {
        // It expires on its own.
      }
    }
  }
  const std::vector<LockHolder>& dead_holders() const override { return dead_; }

 private:
  void renew_until_released() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, period_, [this] { return released_; })) {
      lock.unlock();
      for (const auto& k : keys_) {
        try {
          client_.put(k, text_);
        } catch (...) {
          // A missed renewal is retried next period; the lease lasts three periods.
        }
      }
      lock.lock();
    }
  }
  s3::Client client_;  // the renewer's own (a client belongs to one thread)
  const std::vector<std::string> keys_;
  const std::string text_;
  const std::vector<LockHolder> dead_;
  const std::chrono::milliseconds period_;
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
    : url_(std::move(url)), credentials_(std::move(credentials)), clients_(std::make_unique<Clients>()) {}

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
  return std::make_unique<S3Writer>(client(), url_, credentials_, key(name));
}

std::unique_ptr<ByteReader> S3Sink::open(const std::string& name) {
  check_sink_name(name);
  auto first = client().get_range(key(name), 0, url_.part_size);
  if (!first) throw Error(ErrorCode::NotFound, describe(name) + ": no such object");
  return std::make_unique<S3Reader>(client(), key(name), describe(name), url_.part_size, std::move(*first));
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

std::vector<std::string> S3Sink::list(const std::string& prefix) {
  std::string p = key(prefix);
  if (!p.empty()) p += "/";
  s3::Listing l = client().list(p, "/");
  std::vector<std::string> out;
  for (const auto& o : l.objects) out.push_back(decode_name(o.key.substr(p.size())));
  for (auto cp : l.common_prefixes) {
    cp = cp.substr(p.size());
    if (!cp.empty() && cp.back() == '/') cp.pop_back();
    out.push_back(decode_name(cp));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> S3Sink::list_recursive(const std::string& prefix) {
  std::string p = key(prefix);
  if (!p.empty()) p += "/";
  std::vector<std::string> out;
  std::string mine = key("");
  std::size_t strip = mine.empty() ? 0 : mine.size() + 1;
  for (const auto& o : client().list(p).objects) out.push_back(decode_name(o.key.substr(strip)));
  return out;
}

void S3Sink::remove(const std::string& name) {
  check_sink_name(name);
  client().remove(key(name));
}

void S3Sink::remove_many(const std::vector<std::string>& names) {
  std::vector<std::string> keys;
  for (const auto& n : names) {
    check_sink_name(n);
    keys.push_back(key(n));
  }
  client().remove_many(keys);
}

std::size_t S3Sink::remove_unfinished_writes() {
  std::string p = key("");
  if (!p.empty()) p += "/";
  std::size_t n = 0;
  for (const auto& u : client().list_uploads(p)) {
    client().abort_upload(u.key, u.upload_id);
    ++n;
  }
  return n;
}

// The first request of every run: a destination that cannot be used stops the run before
// any work (Error(Config), exit 2), saying which: endpoint unreachable, bucket missing, or
// credentials refused (the client's own wording for 401/403).
void S3Sink::check_usable() {
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
}

std::unique_ptr<SinkLock> S3Sink::lock(const LockHolder& me, std::chrono::milliseconds wait) {
  check_usable();
  s3::Client& c = client();
  const auto lease = std::chrono::seconds(url_.lease_seconds);
  const std::string text = holder_to_json_text(me);
  const std::string mine = key(std::string(kHolders) + me.host + "-" + std::to_string(me.pid) + "-" + unique_suffix() + ".json");
  // A scoped writer (one host of several) has an exclusive object of its own scope.
  const std::string exclusive_name = me.scope.empty() ? std::string(kExclusive) : std::string(kExclusive) + "." + me.scope;
  const std::string exclusive = key(exclusive_name);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::vector<LockHolder> dead;
  for (;;) {
    const auto now = c.server_time();
    auto expired = [&](std::chrono::system_clock::time_point modified) { return now - modified > lease; };
    std::vector<std::string> blockers;
    bool have_exclusive = false;
    if (me.mode == LockMode::Exclusive) {
      if (c.put_if_absent(exclusive, text)) {
        have_exclusive = true;
      } else if (auto got = c.get(exclusive); got && *got == text) {
        have_exclusive = true;  // our own create, whose answer was lost and retried
      } else if (auto modified = c.last_modified(exclusive); modified && expired(*modified)) {
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
    for (const auto& o : c.list(key(kHolders)).objects) {
      if (o.key == mine) continue;
      std::string body = c.get(o.key).value_or("");
      LockHolder h = holder_from_json_text(body, "lease s3://" + url_.endpoint.bucket + "/" + o.key);
      if (expired(o.last_modified)) {
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
      return std::make_unique<S3Lease>(url_, credentials_, keys, text, dead);
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
  if (location.rfind("s3://", 0) == 0)
    return std::make_unique<S3Sink>(s3::parse_url(location), s3::credentials_from_environment());
  if (location.rfind("file://", 0) == 0) return std::make_unique<LocalSink>(location.substr(7));
  if (auto colon = location.find("://"); colon != std::string::npos)
    throw Error(ErrorCode::Usage, "unknown backup destination scheme '" + location.substr(0, colon) + "://' in '" +
                                      location + "' (s3:// or a directory)");
  return std::make_unique<LocalSink>(location);
}

}  // namespace gitvault
