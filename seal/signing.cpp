#include "seal/signing.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
#include "seal/bech32.h"
#include "seal/crypto.h"

namespace gitvault {
namespace {

constexpr std::string_view kSignerHrp = "gvsigner";
constexpr std::string_view kKeyHrp = "gitvault-signing-key-";

std::string octal_mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

}  // namespace

std::string SignerKey::text() const { return bech32_encode(kSignerHrp, key.data(), key.size()); }

SignerKey parse_signer_key(std::string_view text, std::string_view where) {
  std::string bytes = bech32_decode_32(text, kSignerHrp);
  if (bytes.empty())
    throw Error(ErrorCode::Config, std::string(where) + ": \"" + std::string(text.substr(0, 100)) +
                                       "\" is not a gitvault signer key (gvsigner1…, as `gitvault seal-key` prints it)");
  SignerKey k;
  std::memcpy(k.key.data(), bytes.data(), 32);
  return k;
}

SigningKey::SigningKey(SigningKey&& other) noexcept : secret_(other.secret_) {
  sodium_memzero(other.secret_.data(), other.secret_.size());
}

SigningKey::~SigningKey() { sodium_memzero(secret_.data(), secret_.size()); }

SigningKey SigningKey::generate() {
  ensure_sodium();
  SigningKey k;
  std::array<unsigned char, 32> pk{};
  crypto_sign_keypair(pk.data(), k.secret_.data());
  return k;
}

std::string SigningKey::text() const {
  std::string s = bech32_encode(kKeyHrp, secret_.data(), 32);  // the seed
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

SignerKey SigningKey::public_key() const {
  SignerKey k;
  std::memcpy(k.key.data(), secret_.data() + 32, 32);
  return k;
}

std::string SigningKey::sign(std::string_view message) const {
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(), secret_.data());
  return sig;
}

SigningKey SigningKey::load_or_create(const std::string& path) {
  ensure_sodium();
  std::string text;
  try {
    text = read_secret_file(path, "signing key");
  } catch (const Error& e) {
    if (e.code() != ErrorCode::NotFound) throw;
    SigningKey k = generate();
    make_dirs(std::filesystem::path(path).parent_path().string(), 0700);
    write_file_atomic(path, "# gitvault signing key; public key: " + k.public_key().text() + "\n" + k.text() + "\n", 0600);
    return k;
  }
  std::string line;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t nl = text.find('\n', at);
    std::string l = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? text.size() : nl + 1;
    while (!l.empty() && std::isspace(static_cast<unsigned char>(l.back()))) l.pop_back();
    if (!l.empty() && l[0] != '#') line = l;
  }
  std::string seed = bech32_decode_32(line, kKeyHrp);
  sodium_memzero(line.data(), line.size());
  sodium_memzero(text.data(), text.size());
  if (seed.empty()) throw Error(ErrorCode::Config, "signing key " + path + ": holds no gitvault signing key");
  SigningKey k;
  std::array<unsigned char, 32> pk{};
  crypto_sign_seed_keypair(pk.data(), k.secret_.data(), reinterpret_cast<const unsigned char*>(seed.data()));
  sodium_memzero(seed.data(), seed.size());
  return k;
}

bool signature_is_valid(const SignerKey& signer, std::string_view message, std::string_view signature) {
  ensure_sodium();
  if (signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                     signer.key.data()) == 0;
}

std::string read_secret_file(const std::string& path, std::string_view what) {
  const std::string name = std::string(what) + " " + path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int err = errno;
    throw Error(err == ENOENT ? ErrorCode::NotFound : ErrorCode::Config, name + ": " + std::strerror(err));
  }
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::Config, name + ": not a regular file");
  }
  if ((st.st_mode & 077) != 0 || (st.st_uid != ::geteuid() && st.st_uid != 0)) {
    ::close(fd);
    throw Error(ErrorCode::Config, name + ": mode " + octal_mode(st.st_mode) + ", owner uid " +
                                       std::to_string(st.st_uid) +
                                       " — a secret must be readable by its owner only (chmod 600), as ssh "
                                       "requires of a private key; refused");
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw Error(ErrorCode::Io, name + ": " + std::strerror(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > (1 << 20)) {
      ::close(fd);
      throw Error(ErrorCode::Config, name + ": larger than 1 MiB, not a key file");
    }
  }
  sodium_memzero(buf, sizeof buf);
  ::close(fd);
  return out;
}

std::array<unsigned char, 32> SigningKey::naming_key() const {
  return hkdf_sha256_32(std::string_view(reinterpret_cast<const char*>(secret_.data()), 32), "",
                        "gitvault repository names v1");
}

std::string opaque_repository_path(const std::array<unsigned char, 32>& naming_key, std::string_view storage,
                                   std::string_view relative_path) {
  std::string message(storage);
  message.push_back('\0');
  message.append(relative_path);
  const std::string mac =
      hmac_sha256(std::string_view(reinterpret_cast<const char*>(naming_key.data()), naming_key.size()), message);
  return "=" + hex_lower(mac);
}

bool is_opaque_repository_path(std::string_view path) {
  if (path.size() != 65 || path[0] != '=') return false;
  return std::all_of(path.begin() + 1, path.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace gitvault
