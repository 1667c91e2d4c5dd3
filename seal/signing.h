// Who wrote a sealed backup: each backing-up host signs what it writes with an Ed25519 key
// of its own (libsodium), and restores check the signature against the keys the config
// trusts (docs/encryption.md, "Authenticity"). Public keys are written
// "gvsigner1…" (Bech32, so a mistyped key in a config is refused); the key file holds
// "GITVAULT-SIGNING-KEY-1…", mode 0600.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace gitvault {

// A public key that signatures are checked against.
struct SignerKey {
  std::array<unsigned char, 32> key{};
  std::string text() const;  // "gvsigner1…"
  bool operator==(const SignerKey&) const = default;
};
// "gvsigner1…" → key; Error(Config) naming `where` for anything else.
SignerKey parse_signer_key(std::string_view text, std::string_view where);

// A host's signing key. Wiped when destroyed.
class SigningKey {
 public:
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;
  SigningKey(SigningKey&&) noexcept;
  ~SigningKey();
  static SigningKey generate();
  // The key in `path`, created when there is none (0600, its directory 0700 when created).
  // Error(Config) naming the file when it is readable by group or others, is not owned by
  // this user or root, is not a regular file, or holds no key.
  static SigningKey load_or_create(const std::string& path);
  SignerKey public_key() const;
  // The 64-byte Ed25519 signature of `message`.
  std::string sign(std::string_view message) const;
  std::string text() const;  // the key file's line: a secret
  // The key the names of a sealed destination's repository files derive from (HKDF-SHA256 of
  // the seed): secret like the signing key, never written anywhere.
  std::array<unsigned char, 32> naming_key() const;

 private:
  SigningKey() = default;
  std::array<unsigned char, 64> secret_{};  // libsodium's form: seed then public key
};

// The name a sealed destination files a repository under instead of its path: "=" and 64 hex
// digits, the HMAC-SHA256 of "<storage>\0<relative path>" under the host's naming key — the
// same every night for the same repository (so its chain stays in one place), and opaque to a
// reader of the destination (docs/encryption.md, "Names").
std::string opaque_repository_path(const std::array<unsigned char, 32>& naming_key, std::string_view storage,
                                   std::string_view relative_path);
// Whether a path is one opaque_repository_path() made.
bool is_opaque_repository_path(std::string_view path);

// Whether `signature` is `signer`'s Ed25519 signature of `message`.
bool signature_is_valid(const SignerKey& signer, std::string_view message, std::string_view signature);

// The whole of a file holding a secret (a key), refused like ssh refuses a private key:
// Error(Config) naming it unless it is a regular file owned by this user (or root) that
// group and others cannot read or write (mode 0600 or stricter); Error(NotFound) if absent.
std::string read_secret_file(const std::string& path, std::string_view what);

}  // namespace gitvault
