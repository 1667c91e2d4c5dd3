// The age v1 file format (https://age-encryption.org/v1) with X25519 recipients: what a
// sealed destination holds in every file that says anything about a repository
// (docs/encryption.md). A file written here decrypts with Debian's `age -d -i KEY`, and one
// written by `age -e -r` reads here. Keys are the text `age-keygen` prints.
//
// The primitives are libsodium's (X25519, ChaCha20-Poly1305) and OpenSSL's (HKDF-SHA256,
// HMAC-SHA256); this file only puts them together as the specification says.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/byte_reader.h"

namespace gitvault {

// A recipient: an X25519 public key, written "age1…" (Bech32).
struct AgeRecipient {
  std::array<unsigned char, 32> key{};
  std::string text() const;
  bool operator==(const AgeRecipient&) const = default;
};

// An identity: an X25519 secret key, written "AGE-SECRET-KEY-1…". Wiped when destroyed.
class AgeIdentity {
 public:
  AgeIdentity() = default;
  explicit AgeIdentity(const std::array<unsigned char, 32>& secret);
  AgeIdentity(const AgeIdentity& other);
  AgeIdentity& operator=(const AgeIdentity& other);
  ~AgeIdentity();
  static AgeIdentity generate();
  AgeRecipient recipient() const;
  std::string text() const;  // a secret: for a key file of mode 0600, never for a log
  const std::array<unsigned char, 32>& secret() const { return secret_; }

 private:
  std::array<unsigned char, 32> secret_{};
};

// "age1…" → recipient; Error(Config) naming `where` for anything else.
AgeRecipient parse_age_recipient(std::string_view text, std::string_view where);
// A recipients file as `age -R` reads it: one recipient per line, blank lines and lines
// starting with '#' skipped. Error(Config) naming `where` and the line.
std::vector<AgeRecipient> parse_age_recipients(std::string_view file_text, std::string_view where);
// An identity file as `age -i` reads it (age-keygen's output): AGE-SECRET-KEY-1… lines,
// blank and '#' lines skipped. Error(Config) naming `where` and the line (never the key).
std::vector<AgeIdentity> parse_age_identities(std::string_view file_text, std::string_view where);
// The identities in a key file, read as ssh reads a private key: refused (Error(Config),
// naming the file and its mode) unless only its owner can read it (seal/signing.h
// read_secret_file); Error(NotFound) when there is no such file.
std::vector<AgeIdentity> read_age_identity_file(const std::string& path);

// Encrypts a stream to recipients: the header and the payload nonce are written at
// construction, then 64 KiB chunks as the plaintext arrives; finish() writes the last one.
// Memory: one chunk, whatever the file's size.
class AgeEncryptor {
 public:
  using Output = std::function<void(const void* data, std::size_t size)>;
  AgeEncryptor(const std::vector<AgeRecipient>& recipients, Output out);
  ~AgeEncryptor();
  AgeEncryptor(const AgeEncryptor&) = delete;
  AgeEncryptor& operator=(const AgeEncryptor&) = delete;
  void write(const void* data, std::size_t size);
  void finish();

 private:
  void seal_chunk(bool last);
  Output out_;
  std::array<unsigned char, 32> payload_key_{};
  std::uint64_t counter_ = 0;
  std::string chunk_;
  std::string sealed_;
  bool finished_ = false;
};

// The plaintext of an age file read from `sealed`, chunk by chunk: each 64 KiB chunk is
// authenticated before a byte of it is returned, and the end must be the sealed last
// chunk (a file cut short at a chunk boundary is refused, not taken as shorter).
// Construction reads and checks the header: Error(Corrupt) naming the file for a damaged
// header or payload, Error(Config) when none of `identities` opens it.
class AgeDecryptingReader : public ByteReader {
 public:
  AgeDecryptingReader(std::unique_ptr<ByteReader> sealed, const std::vector<AgeIdentity>& identities);
  ~AgeDecryptingReader() override;
  std::size_t read(void* buf, std::size_t size) override;
  const std::string& name() const override { return sealed_->name(); }

 private:
  bool fill_ahead();
  void open_chunk();
  std::unique_ptr<ByteReader> sealed_;
  std::array<unsigned char, 32> payload_key_{};
  std::uint64_t counter_ = 0;
  std::string ahead_;  // ciphertext read but not yet opened
  bool source_done_ = false;
  bool last_seen_ = false;
  std::string plain_;
  std::size_t plain_at_ = 0;
};

// What an age file's header says without any identity: how many X25519 stanzas it has
// (one per recipient) — what `backups` can say of a sealed file. Error(Corrupt) when the
// text is not an age v1 header. Exposed for the fuzzer and for tests.
struct AgeHeaderStanza {
  std::string type;
  std::vector<std::string> args;
  std::string body;
};
struct AgeHeader {
  std::vector<AgeHeaderStanza> stanzas;
  std::string mac;            // 32 bytes
  std::size_t mac_input = 0;  // bytes of the header the MAC covers (through "---")
  std::size_t size = 0;       // bytes of the header, through its last newline
};
// Parses the header at the start of `bytes`; one that does not end within `bytes` is
// Error(Corrupt) ("truncated").
AgeHeader parse_age_header(std::string_view bytes, std::string_view where);

// Whole-buffer forms, for small files and tests.
std::string age_encrypt(std::string_view plaintext, const std::vector<AgeRecipient>& recipients);
std::string age_decrypt(std::string_view sealed, const std::vector<AgeIdentity>& identities, std::string_view where);

}  // namespace gitvault
