#include "seal/age.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "base/encoding.h"
#include "base/error.h"
#include "seal/bech32.h"
#include "seal/crypto.h"
#include "seal/signing.h"

namespace gitvault {
namespace {

constexpr std::string_view kVersionLine = "age-encryption.org/v1";
constexpr std::string_view kX25519Info = "age-encryption.org/v1/X25519";
constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kTag = crypto_aead_chacha20poly1305_ietf_ABYTES;
constexpr std::size_t kMaxHeader = 1 << 20;  // far more than any list of recipients needs
constexpr std::string_view kRecipientHrp = "age";
constexpr std::string_view kIdentityHrp = "age-secret-key-";

// ---- base64 as age writes it: standard alphabet, no padding, canonical ----

std::string b64(std::string_view bytes) {
  std::string s = base64_encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

// Error(Corrupt) unless `text` is the one unpadded encoding of its bytes.
std::string unb64(std::string_view text, const std::string& where) {
  if (text.find('=') != std::string_view::npos) throw Error(ErrorCode::Corrupt, where + ": padded base64 in the age header");
  std::string padded(text);
  padded.append((4 - padded.size() % 4) % 4, '=');
  std::string bytes = base64_decode(padded);
  if (b64(bytes) != text) throw Error(ErrorCode::Corrupt, where + ": non-canonical base64 in the age header");
  return bytes;
}

const unsigned char* u8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

std::array<unsigned char, 12> chunk_nonce(std::uint64_t counter, bool last) {
  std::array<unsigned char, 12> nonce{};
  for (int i = 0; i < 8; ++i) nonce[10 - i] = static_cast<unsigned char>(counter >> (8 * i));
  nonce[11] = last ? 1 : 0;
  return nonce;
}

std::array<unsigned char, 32> payload_key_of(const std::array<unsigned char, 16>& file_key, std::string_view nonce) {
  return hkdf_sha256_32({reinterpret_cast<const char*>(file_key.data()), file_key.size()}, nonce, "payload");
}

std::string header_mac(const std::array<unsigned char, 16>& file_key, std::string_view covered) {
  auto key = hkdf_sha256_32({reinterpret_cast<const char*>(file_key.data()), file_key.size()}, "", "header");
  return hmac_sha256({reinterpret_cast<const char*>(key.data()), key.size()}, covered);
}

// The X25519 stanza that wraps `file_key` for `r`.
std::string x25519_stanza(const AgeRecipient& r, const std::array<unsigned char, 16>& file_key) {
  std::array<unsigned char, 32> ephemeral{}, share{}, shared{};
  randombytes_buf(ephemeral.data(), ephemeral.size());
  crypto_scalarmult_base(share.data(), ephemeral.data());
  if (crypto_scalarmult(shared.data(), ephemeral.data(), r.key.data()) != 0)
    throw Error(ErrorCode::Config, "age recipient " + r.text() + " is not a usable X25519 key");
  sodium_memzero(ephemeral.data(), ephemeral.size());
  std::string salt(reinterpret_cast<const char*>(share.data()), 32);
  salt.append(reinterpret_cast<const char*>(r.key.data()), 32);
  auto wrap = hkdf_sha256_32({reinterpret_cast<const char*>(shared.data()), 32}, salt, kX25519Info);
  sodium_memzero(shared.data(), shared.size());
  unsigned char body[16 + kTag];
  const std::array<unsigned char, 12> zero{};
  crypto_aead_chacha20poly1305_ietf_encrypt(body, nullptr, file_key.data(), 16, nullptr, 0, nullptr, zero.data(),
                                            wrap.data());
  sodium_memzero(wrap.data(), wrap.size());
  return "-> X25519 " + b64({reinterpret_cast<const char*>(share.data()), 32}) + "\n" +
         b64({reinterpret_cast<const char*>(body), sizeof body}) + "\n";
}

// The file key an X25519 stanza wraps for `id`, if it was wrapped for it.
bool unwrap_x25519(const AgeHeaderStanza& s, const AgeIdentity& id, std::array<unsigned char, 16>& file_key,
                   const std::string& where) {
  if (s.args.size() != 1) throw Error(ErrorCode::Corrupt, where + ": X25519 stanza with " + std::to_string(s.args.size()) + " arguments");
  std::string share = unb64(s.args[0], where);
  if (share.size() != 32 || s.body.size() != 16 + kTag)
    throw Error(ErrorCode::Corrupt, where + ": X25519 stanza of the wrong size");
  std::array<unsigned char, 32> shared{};
  if (crypto_scalarmult(shared.data(), id.secret().data(), u8(share)) != 0)
    throw Error(ErrorCode::Corrupt, where + ": X25519 stanza with a low-order share");
  AgeRecipient mine = id.recipient();
  std::string salt = share + std::string(reinterpret_cast<const char*>(mine.key.data()), 32);
  auto wrap = hkdf_sha256_32({reinterpret_cast<const char*>(shared.data()), 32}, salt, kX25519Info);
  sodium_memzero(shared.data(), shared.size());
  const std::array<unsigned char, 12> zero{};
  bool ok = crypto_aead_chacha20poly1305_ietf_decrypt(file_key.data(), nullptr, nullptr, u8(s.body), s.body.size(),
                                                      nullptr, 0, zero.data(), wrap.data()) == 0;
  sodium_memzero(wrap.data(), wrap.size());
  return ok;
}

bool is_vchar_arg(std::string_view a) {
  return !a.empty() && std::all_of(a.begin(), a.end(), [](char c) { return c >= 33 && c <= 126; });
}

// One stanza starting at `at` (its "-> " line and body), advancing `at` past it.
AgeHeaderStanza parse_stanza(std::string_view bytes, std::size_t& at, const std::string& where) {
  auto line_at = [&](std::size_t from) {
    std::size_t nl = bytes.find('\n', from);
    if (nl == std::string_view::npos) throw Error(ErrorCode::Corrupt, where + ": truncated age header");
    return bytes.substr(from, nl - from);
  };
  std::string_view first = line_at(at);
  at += first.size() + 1;
  AgeHeaderStanza s;
  std::size_t p = 3;
  while (p <= first.size()) {
    std::size_t sp = first.find(' ', p);
    if (sp == std::string_view::npos) sp = first.size();
    std::string_view arg = first.substr(p, sp - p);
    if (!is_vchar_arg(arg)) throw Error(ErrorCode::Corrupt, where + ": malformed stanza line in the age header");
    (s.type.empty() ? s.type : s.args.emplace_back()) = std::string(arg);
    p = sp + 1;
  }
  if (s.type.empty()) throw Error(ErrorCode::Corrupt, where + ": stanza without a type in the age header");
  std::string body_text;
  for (;;) {
    std::string_view line = line_at(at);
    at += line.size() + 1;
    if (line.size() > 64) throw Error(ErrorCode::Corrupt, where + ": overlong stanza body line in the age header");
    body_text += line;
    if (line.size() < 64) break;
  }
  s.body = unb64(body_text, where);
  return s;
}

std::string build_header(const std::vector<AgeRecipient>& recipients, const std::array<unsigned char, 16>& file_key) {
  std::string h(kVersionLine);
  h += '\n';
  for (const auto& r : recipients) h += x25519_stanza(r, file_key);
  h += "---";
  h += " " + b64(header_mac(file_key, h)) + "\n";
  return h;
}

}  // namespace

// ---- keys ----

std::string AgeRecipient::text() const { return bech32_encode(kRecipientHrp, key.data(), key.size()); }

AgeIdentity::AgeIdentity(const std::array<unsigned char, 32>& secret) : secret_(secret) {}
AgeIdentity::AgeIdentity(const AgeIdentity& other) : secret_(other.secret_) {}
AgeIdentity& AgeIdentity::operator=(const AgeIdentity& other) {
  secret_ = other.secret_;
  return *this;
}
AgeIdentity::~AgeIdentity() { sodium_memzero(secret_.data(), secret_.size()); }

AgeIdentity AgeIdentity::generate() {
  ensure_sodium();
  AgeIdentity id;
  randombytes_buf(id.secret_.data(), id.secret_.size());
  return id;
}

AgeRecipient AgeIdentity::recipient() const {
  ensure_sodium();
  AgeRecipient r;
  crypto_scalarmult_base(r.key.data(), secret_.data());
  return r;
}

std::string AgeIdentity::text() const {
  std::string s = bech32_encode(kIdentityHrp, secret_.data(), secret_.size());
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

AgeRecipient parse_age_recipient(std::string_view text, std::string_view where) {
  std::string key = bech32_decode_32(text, kRecipientHrp);
  if (key.empty())
    throw Error(ErrorCode::Config, std::string(where) + ": \"" + printable(text.substr(0, 100)) +
                                       "\" is not an age X25519 recipient (age1…, as age-keygen prints it)");
  AgeRecipient r;
  std::memcpy(r.key.data(), key.data(), 32);
  return r;
}

namespace {
template <typename F>
void for_each_key_line(std::string_view text, F&& f) {
  std::size_t line_no = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    f(line, line_no);
  }
}
}  // namespace

std::vector<AgeRecipient> parse_age_recipients(std::string_view file_text, std::string_view where) {
  std::vector<AgeRecipient> out;
  for_each_key_line(file_text, [&](std::string_view line, std::size_t n) {
    out.push_back(parse_age_recipient(line, std::string(where) + " line " + std::to_string(n)));
  });
  if (out.empty()) throw Error(ErrorCode::Config, std::string(where) + ": no age recipient in it");
  return out;
}

std::vector<AgeIdentity> parse_age_identities(std::string_view file_text, std::string_view where) {
  std::vector<AgeIdentity> out;
  for_each_key_line(file_text, [&](std::string_view line, std::size_t n) {
    std::string key = bech32_decode_32(line, kIdentityHrp);
    if (key.empty())
      throw Error(ErrorCode::Config, std::string(where) + " line " + std::to_string(n) +
                                         ": not an age X25519 identity (AGE-SECRET-KEY-1…, as age-keygen writes it)");
    std::array<unsigned char, 32> secret{};
    std::memcpy(secret.data(), key.data(), 32);
    sodium_memzero(key.data(), key.size());
    out.emplace_back(secret);
    sodium_memzero(secret.data(), secret.size());
  });
  if (out.empty()) throw Error(ErrorCode::Config, std::string(where) + ": no age identity in it");
  return out;
}

std::vector<AgeIdentity> read_age_identity_file(const std::string& path) {
  std::string text = read_secret_file(path, "identity file");
  std::vector<AgeIdentity> ids = parse_age_identities(text, "identity file " + path);
  sodium_memzero(text.data(), text.size());
  return ids;
}

// ---- header ----

AgeHeader parse_age_header(std::string_view bytes, std::string_view where_view) {
  const std::string where(where_view);
  bytes = bytes.substr(0, std::min(bytes.size(), kMaxHeader));
  std::size_t nl = bytes.find('\n');
  if (nl == std::string_view::npos || bytes.substr(0, nl) != kVersionLine)
    throw Error(ErrorCode::Corrupt, where + ": not an age v1 file (its first line is not " + std::string(kVersionLine) + ")");
  AgeHeader h;
  std::size_t at = nl + 1;
  for (;;) {
    if (bytes.substr(at, 3) == "-> ") {
      h.stanzas.push_back(parse_stanza(bytes, at, where));
      continue;
    }
    if (bytes.substr(at, 4) != "--- ") throw Error(ErrorCode::Corrupt, where + ": truncated or malformed age header");
    h.mac_input = at + 3;
    std::size_t end = bytes.find('\n', at);
    if (end == std::string_view::npos) throw Error(ErrorCode::Corrupt, where + ": truncated age header");
    h.mac = unb64(bytes.substr(at + 4, end - at - 4), where);
    if (h.mac.size() != 32) throw Error(ErrorCode::Corrupt, where + ": age header MAC of the wrong size");
    h.size = end + 1;
    return h;
  }
}

// ---- encryption ----

AgeEncryptor::AgeEncryptor(const std::vector<AgeRecipient>& recipients, Output out) : out_(std::move(out)) {
  ensure_sodium();
  if (recipients.empty()) throw Error(ErrorCode::Config, "sealing needs at least one age recipient");
  std::array<unsigned char, 16> file_key{};
  randombytes_buf(file_key.data(), file_key.size());
  std::string header = build_header(recipients, file_key);
  std::string nonce(16, '\0');
  randombytes_buf(nonce.data(), nonce.size());
  payload_key_ = payload_key_of(file_key, nonce);
  sodium_memzero(file_key.data(), file_key.size());
  out_(header.data(), header.size());
  out_(nonce.data(), nonce.size());
  chunk_.reserve(kChunk);
}

AgeEncryptor::~AgeEncryptor() { sodium_memzero(payload_key_.data(), payload_key_.size()); }

void AgeEncryptor::seal_chunk(bool last) {
  auto nonce = chunk_nonce(counter_++, last);
  sealed_.resize(chunk_.size() + kTag);
  unsigned long long n = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(sealed_.data()), &n, u8(chunk_),
                                            chunk_.size(), nullptr, 0, nullptr, nonce.data(), payload_key_.data());
  out_(sealed_.data(), static_cast<std::size_t>(n));
  chunk_.clear();
}

void AgeEncryptor::write(const void* data, std::size_t size) {
  if (finished_) throw Error(ErrorCode::Internal, "age: write after finish");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    // A full chunk is sealed only once more data comes: the last chunk must say it is last.
    if (chunk_.size() == kChunk) seal_chunk(false);
    std::size_t n = std::min(size, kChunk - chunk_.size());
    chunk_.append(p, n);
    p += n;
    size -= n;
  }
}

void AgeEncryptor::finish() {
  if (finished_) return;
  seal_chunk(true);
  finished_ = true;
}

// ---- decryption ----

AgeDecryptingReader::AgeDecryptingReader(std::unique_ptr<ByteReader> sealed, const std::vector<AgeIdentity>& identities)
    : sealed_(std::move(sealed)) {
  ensure_sodium();
  const std::string& where = sealed_->name();
  // The header: read until "--- …\n" is in; then the 16-byte nonce.
  AgeHeader h;
  for (;;) {
    std::size_t mark = ahead_.find("\n---");
    if (mark != std::string::npos && ahead_.find('\n', mark + 1) != std::string::npos) {
      h = parse_age_header(ahead_, where);
      break;
    }
    if (ahead_.size() > kMaxHeader) throw Error(ErrorCode::Corrupt, where + ": age header longer than 1 MiB");
    if (!fill_ahead()) {
      h = parse_age_header(ahead_, where);  // throws: truncated
      break;
    }
  }
  std::array<unsigned char, 16> file_key{};
  bool opened = false;
  for (const auto& s : h.stanzas) {
    if (s.type == "scrypt" && h.stanzas.size() != 1) throw Error(ErrorCode::Corrupt, where + ": scrypt stanza beside others");
    if (s.type != "X25519") continue;
    for (const auto& id : identities)
      if (!opened && unwrap_x25519(s, id, file_key, where)) opened = true;
  }
  if (!opened)
    throw Error(ErrorCode::Config, where + ": sealed for none of the identities given (" +
                                       std::to_string(h.stanzas.size()) + " recipient stanzas)");
  std::string expected = header_mac(file_key, std::string_view(ahead_).substr(0, h.mac_input));
  if (sodium_memcmp(expected.data(), h.mac.data(), 32) != 0) {
    sodium_memzero(file_key.data(), file_key.size());
    throw Error(ErrorCode::Corrupt, where + ": the age header's MAC does not match (the header was changed)");
  }
  ahead_.erase(0, h.size);
  while (ahead_.size() < 16 && fill_ahead()) {
  }
  if (ahead_.size() < 16) throw Error(ErrorCode::Corrupt, where + ": age file ends before its payload nonce");
  payload_key_ = payload_key_of(file_key, std::string_view(ahead_).substr(0, 16));
  sodium_memzero(file_key.data(), file_key.size());
  ahead_.erase(0, 16);
}

AgeDecryptingReader::~AgeDecryptingReader() {
  sodium_memzero(payload_key_.data(), payload_key_.size());
  sodium_memzero(plain_.data(), plain_.size());
}

bool AgeDecryptingReader::fill_ahead() {
  if (source_done_) return false;
  char buf[64 * 1024];
  std::size_t n = sealed_->read(buf, sizeof buf);
  if (n == 0) {
    source_done_ = true;
    return false;
  }
  ahead_.append(buf, n);
  return true;
}

void AgeDecryptingReader::open_chunk() {
  const std::size_t full = kChunk + kTag;
  // A chunk is the last one when the file ends within one full chunk from here.
  while (ahead_.size() <= full && fill_ahead()) {
  }
  bool last = ahead_.size() <= full;
  std::size_t n = std::min(ahead_.size(), full);
  const std::string& where = sealed_->name();
  if (n < kTag) throw Error(ErrorCode::Corrupt, where + ": age payload cut short (chunk " + std::to_string(counter_) + ")");
  if (last && n == kTag && counter_ > 0)
    throw Error(ErrorCode::Corrupt, where + ": age payload ends in an empty chunk after others");
  auto nonce = chunk_nonce(counter_, last);
  plain_.resize(n - kTag);
  if (crypto_aead_chacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(plain_.data()), nullptr, nullptr,
                                                u8(ahead_), n, nullptr, 0, nonce.data(), payload_key_.data()) != 0)
    throw Error(ErrorCode::Corrupt, where + ": age payload chunk " + std::to_string(counter_) +
                                        " fails authentication (changed, cut short or extended)");
  ++counter_;
  ahead_.erase(0, n);
  plain_at_ = 0;
  last_seen_ = last;
}

std::size_t AgeDecryptingReader::read(void* buf, std::size_t size) {
  while (plain_at_ == plain_.size()) {
    if (last_seen_) return 0;
    open_chunk();
  }
  std::size_t n = std::min(size, plain_.size() - plain_at_);
  std::memcpy(buf, plain_.data() + plain_at_, n);
  plain_at_ += n;
  return n;
}

// ---- whole buffers ----

std::string age_encrypt(std::string_view plaintext, const std::vector<AgeRecipient>& recipients) {
  std::string out;
  AgeEncryptor e(recipients, [&](const void* d, std::size_t n) { out.append(static_cast<const char*>(d), n); });
  e.write(plaintext.data(), plaintext.size());
  e.finish();
  return out;
}


std::string age_decrypt(std::string_view sealed, const std::vector<AgeIdentity>& identities, std::string_view where) {
  AgeDecryptingReader r(std::make_unique<StringReader>(std::string(sealed), std::string(where)), identities);
  std::string out;
  char buf[64 * 1024];
  while (std::size_t n = r.read(buf, sizeof buf)) out.append(buf, n);
  return out;
}

}  // namespace gitvault
