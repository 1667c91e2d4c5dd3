#include "destination/sealed_sink.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
#include "base/sha256.h"

namespace gitvault {
namespace {

constexpr std::string_view kSealWord = "gvseal1";

// What the signature of a record covers: where it is, its clear header, for whom it was
// sealed and the SHA-256 of its sealed part, so neither part can be swapped for another's.
std::string signed_message(const std::string& name, const std::string& header, const std::string& recipients,
                           const std::string& sealed_sha256) {
  return "gitvault sealed record v1\n" + name + "\n" + header + recipients + "\n" + sealed_sha256 + "\n";
}

// The pieces of `line` between `sep`s, empty ones included.
std::vector<std::string> split_at(const std::string& line, char sep) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at <= line.size();) {
    std::size_t end = line.find(sep, at);
    if (end == std::string::npos) end = line.size();
    out.push_back(line.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

struct SealLine {
  SignerKey signer;
  std::string recipients;  // comma-separated
  std::string sealed_sha256;
  std::string signature;   // raw
};

SealLine parse_seal_line(const std::string& line, const std::string& where) {
  const std::vector<std::string> w = split_at(line, ' ');
  if (w.size() != 5 || w[0] != kSealWord)
    throw Error(ErrorCode::Corrupt, where + ": not a sealed record (no \"" + std::string(kSealWord) +
                                        "\" line after the header): this destination holds backups written without "
                                        "[encryption], which a sealed configuration does not read or add to");
  SealLine s;
  try {
    s.signer = parse_signer_key(w[1], where);
  } catch (const Error& e) {  // the destination's bytes, not the configuration
    throw Error(ErrorCode::Corrupt, std::string(e.what()));
  }
  s.recipients = w[2];
  s.sealed_sha256 = w[3];
  s.signature = hex_decode(w[4]).value_or("");
  if (s.sealed_sha256.size() != 64 || s.signature.size() != 64)
    throw Error(ErrorCode::Corrupt, where + ": damaged seal line");
  return s;
}

// The writer's copy of what it sealed: replaced atomically, not made durable (a lost copy
// only makes a night full), so a backup pays no fsync per file for it.
void write_shadow(const std::string& path, const std::string& plain) {
  make_dirs(std::filesystem::path(path).parent_path().string(), 0700);
  write_file_atomic(path, plain, 0600, /*durable=*/false);
}

// Writes through an age encryptor; a shadowed file's plaintext is kept for the shadow,
// written once the destination's commit succeeded.
class SealingWriter : public SinkWriter {
 public:
  SealingWriter(std::unique_ptr<SinkWriter> inner, const std::vector<AgeRecipient>& recipients, std::string shadow)
      : inner_(std::move(inner)),
        shadow_(std::move(shadow)),
        age_(recipients, [this](const void* d, std::size_t n) {
          inner_->write(d, n);
          sealed_hash_.update(d, n);
          sealed_size_ += n;
        }) {}
  void write(const void* data, std::size_t size) override {
    age_.write(data, size);
    if (!shadow_.empty()) plain_.append(static_cast<const char*>(data), size);
  }
  std::optional<StoredDigest> stored() const override { return stored_; }
  void commit() override {
    age_.finish();
    inner_->commit();
    stored_ = StoredDigest{sealed_hash_.hex_digest(), sealed_size_};
    if (!shadow_.empty()) write_shadow(shadow_, plain_);
  }

 private:
  std::unique_ptr<SinkWriter> inner_;
  std::string shadow_;
  std::string plain_;
  Sha256 sealed_hash_;  // of the age file, as the destination holds it
  std::uint64_t sealed_size_ = 0;
  std::optional<StoredDigest> stored_;
  AgeEncryptor age_;  // last: its header goes out (through the members above) when it is made
};

// A record: held whole, then written as its clear header line, the seal line and the rest
// sealed.
class RecordWriter : public SinkWriter {
 public:
  RecordWriter(std::unique_ptr<SinkWriter> inner, const SealingKeys& keys, std::string name, std::string shadow)
      : inner_(std::move(inner)), keys_(keys), name_(std::move(name)), shadow_(std::move(shadow)) {}
  void write(const void* data, std::size_t size) override { plain_.append(static_cast<const char*>(data), size); }
  void commit() override {
    if (!keys_.signer) throw Error(ErrorCode::Config, name_ + ": a sealed record needs this host's signing key");
    const std::size_t nl = plain_.find('\n');
    const std::string header = nl == std::string::npos ? plain_ : plain_.substr(0, nl + 1);
    const std::string body = nl == std::string::npos ? "" : plain_.substr(nl + 1);
    const std::string sealed = age_encrypt(body, keys_.recipients);
    std::string recipients;
    for (const auto& r : keys_.recipients) recipients += (recipients.empty() ? "" : ",") + r.text();
    const std::string sha = sha256_hex(sealed);
    const std::string sig = keys_.signer->sign(signed_message(name_, header, recipients, sha));
    const std::string line = std::string(kSealWord) + " " + keys_.signer->public_key().text() + " " + recipients + " " +
                             sha + " " + hex_lower(sig) + "\n";
    inner_->write(header.data(), header.size());
    inner_->write(line.data(), line.size());
    inner_->write(sealed.data(), sealed.size());
    inner_->commit();
    if (!shadow_.empty()) write_shadow(shadow_, plain_);
  }

 private:
  std::unique_ptr<SinkWriter> inner_;
  const SealingKeys& keys_;
  std::string name_, shadow_, plain_;
};

}  // namespace

SealedRecordParts split_sealed_record(const std::string& file, const std::string& where) {
  const std::size_t a = file.find('\n');
  const std::size_t b = a == std::string::npos ? std::string::npos : file.find('\n', a + 1);
  if (b == std::string::npos) parse_seal_line("", where);  // throws: not a sealed record
  return {file.substr(0, a + 1), file.substr(a + 1, b - a - 1), file.substr(b + 1)};
}

SealedSink::SealedSink(std::unique_ptr<Sink> target, SealingKeys keys,
                       std::function<SealedName(const std::string&)> classify)
    : SinkWrapper(*target), owned_(std::move(target)), keys_(std::move(keys)), classify_(std::move(classify)) {
  if (keys_.signer) naming_key_ = keys_.signer->naming_key();  // once, not per repository
}

std::string SealedSink::shadow_path(const std::string& name) const {
  check_sink_name(name);
  return keys_.shadow_dir + "/" + name;
}

std::unique_ptr<SinkWriter> SealedSink::writer(const std::string& name, std::unique_ptr<SinkWriter> inner) {
  const SealedName what = classify_(name);
  if (what.kind == SealedKind::Clear) return inner;
  if (keys_.recipients.empty())
    throw Error(ErrorCode::Config, describe(name) + ": writing a sealed destination needs [encryption] recipients");
  const std::string shadow = what.shadowed && !keys_.shadow_dir.empty() ? shadow_path(name) : "";
  if (what.kind == SealedKind::Record) return std::make_unique<RecordWriter>(std::move(inner), keys_, name, shadow);
  return std::make_unique<SealingWriter>(std::move(inner), keys_.recipients, shadow);
}

std::unique_ptr<SinkWriter> SealedSink::create(const std::string& name) { return writer(name, target().create(name)); }
std::unique_ptr<SinkWriter> SealedSink::create_new(const std::string& name) {
  return writer(name, target().create_new(name));
}
std::unique_ptr<SinkWriter> SealedSink::create_replacement(const std::string& name) {
  return writer(name, target().create_replacement(name));
}

std::unique_ptr<ByteReader> SealedSink::open(const std::string& name) {
  const SealedName what = classify_(name);
  if (what.kind == SealedKind::Clear) return target().open(name);
  const std::string where = describe(name);
  if (keys_.identities.empty()) {
    // The writer's own copy: only when the destination still holds the name, and for a
    // record only while its clear header is the one the destination holds (another host, or
    // a later run, may have written it since).
    const std::string shadow = keys_.shadow_dir.empty() ? "" : shadow_path(name);
    if (!shadow.empty() && path_exists(shadow)) {
      std::string plain = read_file(shadow);
      if (what.kind != SealedKind::Record) {
        if (target().exists(name)) return std::make_unique<StringReader>(std::move(plain), where);
      } else {
        const FilePeek p = target().peek(name, plain.find('\n') + 1, 0);
        if (p.head == plain.substr(0, plain.find('\n') + 1)) return std::make_unique<StringReader>(std::move(plain), where);
      }
    }
    if (!what.clear_copy.empty() && target().exists(what.clear_copy)) return target().open(what.clear_copy);
    if (!target().exists(name)) throw Error(ErrorCode::NotFound, where + ": no such file");
    throw Error(ErrorCode::Config, where + " is sealed: reading it needs an identity (--identity FILE, [encryption] "
                                           "identity_file or GITVAULT_IDENTITY_FILE)");
  }
  if (what.kind == SealedKind::Sealed)
    return std::make_unique<AgeDecryptingReader>(target().open(name), keys_.identities);
  const std::string file = read_whole(target(), name);
  const SealedRecordParts parts = split_sealed_record(file, where);
  const SealLine seal = parse_seal_line(parts.seal, where);
  if (sha256_hex(parts.sealed) != seal.sealed_sha256)
    throw Error(ErrorCode::Corrupt, where + ": the sealed part's SHA-256 is not the one its seal line signed");
  if (!signature_is_valid(seal.signer, signed_message(name, parts.header, seal.recipients, seal.sealed_sha256),
                          seal.signature))
    throw Error(ErrorCode::Corrupt, where + ": bad signature (signer " + seal.signer.text() + ")");
  if (!keys_.trust_any_signer &&
      std::find(keys_.trusted.begin(), keys_.trusted.end(), seal.signer) == keys_.trusted.end())
    throw Error(ErrorCode::Corrupt, where + ": signed by " + seal.signer.text() +
                                        ", a key this configuration does not trust ([encryption] trusted_signers)");
  return std::make_unique<StringReader>(parts.header + age_decrypt(parts.sealed, keys_.identities, where), where);
}

FilePeek SealedSink::peek(const std::string& name, std::size_t head, std::size_t tail) {
  const SealedName what = classify_(name);
  if (what.kind == SealedKind::Clear) return target().peek(name, head, tail);
  if (what.kind == SealedKind::Sealed) return Sink::peek(name, head, tail);
  // The clear header and an empty list of repositories: what a reader of headers takes.
  FilePeek p = target().peek(name, std::max<std::size_t>(head, 1) + 4096, 0);
  const std::size_t nl = p.head.find('\n');
  if (nl == std::string::npos || p.head.find('\n', nl + 1) == std::string::npos) p.head = read_whole(target(), name);
  const SealedRecordParts parts = split_sealed_record(p.head, describe(name));
  const SealLine seal = parse_seal_line(parts.seal, describe(name));
  {
    std::lock_guard<std::mutex> lock(seals_mu_);
    seals_[name] = RecordSeal{seal.signer, split_at(seal.recipients, ',')};
  }
  FilePeek out;
  out.head = parts.header + "]}\n";
  out.tail = out.head.substr(out.head.size() - std::min(tail, out.head.size()));
  out.size = out.head.size();
  return out;
}

RecordSeal SealedSink::record_seal(const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(seals_mu_);
    if (auto it = seals_.find(name); it != seals_.end()) return it->second;
  }
  peek(name, 0, 0);  // reads the clear part and keeps its seal
  std::lock_guard<std::mutex> lock(seals_mu_);
  return seals_.at(name);
}

void SealedSink::require_identity_for(const std::string& name) {
  const RecordSeal seal = record_seal(name);
  std::string sealed_for;
  for (const auto& r : seal.recipients) sealed_for += (sealed_for.empty() ? "" : ", ") + r;
  bool opens = false;
  for (const auto& id : keys_.identities)
    opens = opens || std::find(seal.recipients.begin(), seal.recipients.end(), id.recipient().text()) != seal.recipients.end();
  if (keys_.identities.empty())
    throw Error(ErrorCode::Config, describe(name) + ": the backup is sealed for " + sealed_for +
                                       "; reading it needs one of their identities (--identity FILE, [encryption] "
                                       "identity_file or GITVAULT_IDENTITY_FILE)");
  if (!opens)
    throw Error(ErrorCode::Config, describe(name) + ": the backup is sealed for " + sealed_for +
                                       "; none of the identities given is one of them");
}

std::string SealedSink::repository_path_in(const std::string& storage, const std::string& relative_path) {
  if (!naming_key_) return relative_path;
  return opaque_repository_path(*naming_key_, storage, relative_path);
}

bool SealedSink::can_read(const std::string& name) {
  return !keys_.identities.empty() || classify_(name).kind != SealedKind::Sealed ||
         (!keys_.shadow_dir.empty() && path_exists(shadow_path(name)));
}

std::optional<std::string> SealedSink::check_unread(const FileDigest& digest) {
  if (can_read(digest.name)) return std::nullopt;
  if (!digest.stored) return "no digest of the sealed file was recorded: it can be checked only with an identity";
  const FileHash h = hash_file(target(), digest.name);  // the age file, as the destination holds it
  if (!h.error.empty()) return h.error;
  if (h.size != digest.stored->size)
    return "sealed file is " + std::to_string(h.size) + " bytes, the backup recorded " +
           std::to_string(digest.stored->size) + " (truncated?)";
  if (h.sha256 != digest.stored->sha256) return "SHA-256 mismatch of the sealed file";
  return "";
}

SealingKeys sealing_keys_for(const SealSettings& s, const std::string& destination, bool writing) {
  SealingKeys k;
  for (const auto& r : s.recipients) k.recipients.push_back(parse_age_recipient(r, "[encryption] recipients"));
  if (!s.recipients_file.empty()) {
    std::string text;
    try {
      text = read_file(s.recipients_file);
    } catch (const Error& e) {
      throw Error(ErrorCode::Config, "[encryption] recipients_file: " + std::string(e.what()));
    }
    for (auto& r : parse_age_recipients(text, "recipients file " + s.recipients_file)) k.recipients.push_back(r);
  }
  if (k.recipients.empty()) throw Error(ErrorCode::Config, "[encryption] names no recipient");
  const std::string key_path = s.signing_key.empty() ? kDefaultSigningKey : s.signing_key;
  if (writing || path_exists(key_path)) {
    k.signer = std::make_shared<const SigningKey>(SigningKey::load_or_create(key_path));
    k.trusted.push_back(k.signer->public_key());
  }
  for (const auto& t : s.trusted_signers) k.trusted.push_back(parse_signer_key(t, "[encryption] trusted_signers"));
  k.trust_any_signer = s.trust_any_signer;
  if (!s.identity_file.empty()) k.identities = read_age_identity_file(s.identity_file);
  k.shadow_dir = !s.shadow_dir.empty() ? s.shadow_dir
                                       : std::string(kDefaultSealedState) + "/" + sha256_hex(destination).substr(0, 16);
  return k;
}

void SealedSink::remove(const std::string& name) {
  target().remove(name);
  if (!keys_.shadow_dir.empty()) ::unlink(shadow_path(name).c_str());
}

void SealedSink::remove_many(const std::vector<std::string>& names) {
  target().remove_many(names);
  if (!keys_.shadow_dir.empty())
    for (const auto& n : names) ::unlink(shadow_path(n).c_str());
}

}  // namespace gitvault
