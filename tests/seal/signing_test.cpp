// Ed25519 signing keys of backing-up hosts: RFC 8032's known answer, key files refused as ssh
// refuses private keys, signer keys that a typo cannot turn into another key.
#include "seal/signing.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "base/encoding.h"
#include "base/error.h"
#include "seal/bech32.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

std::string hex(std::string_view bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

mode_t mode_of(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(Signing, RfcEightThousandThirtyTwoTestOneGivesItsPublicKeyAndSignature) {
  ScratchDir dir;
  const std::string seed = from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  std::string line = bech32_encode("gitvault-signing-key-", reinterpret_cast<const unsigned char*>(seed.data()), 32);
  for (char& c : line) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  testing::write_text(dir / "key", "# a comment\n" + line + "\n");
  ::chmod((dir / "key").c_str(), 0600);
  SigningKey k = SigningKey::load_or_create(dir / "key");
  EXPECT_EQ(hex(std::string(reinterpret_cast<const char*>(k.public_key().key.data()), 32)),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  EXPECT_EQ(hex(k.sign("")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
}

TEST(Signing, ASignatureHoldsOnlyForItsMessageAndItsKey) {
  SigningKey a = SigningKey::generate(), b = SigningKey::generate();
  const std::string message = "header of backup 20261205060000";
  std::string sig = a.sign(message);
  EXPECT_TRUE(signature_is_valid(a.public_key(), message, sig));
  EXPECT_FALSE(signature_is_valid(b.public_key(), message, sig));
  std::string changed = message;
  changed[3] ^= 1;
  EXPECT_FALSE(signature_is_valid(a.public_key(), changed, sig));
  std::string bad = sig;
  bad[10] ^= 1;
  EXPECT_FALSE(signature_is_valid(a.public_key(), message, bad));
  EXPECT_FALSE(signature_is_valid(a.public_key(), message, sig.substr(0, 63)));
  // the public key's text form reads back, and a typo in it is refused
  const std::string text = a.public_key().text();
  EXPECT_EQ(parse_signer_key(text, "trusted_signers"), a.public_key());
  std::string typo = text;
  typo[12] = typo[12] == 'q' ? 'p' : 'q';
  EXPECT_THROW(parse_signer_key(typo, "trusted_signers"), Error);
}

TEST(Signing, AKeyIsCreatedPrivateOnFirstUseKeptAfterwardsAndRefusedOnceOthersCanReadIt) {
  ScratchDir dir;
  const std::string path = dir / "state/gitvault/signing.key";
  SignerKey first = SigningKey::load_or_create(path).public_key();
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(mode_of(dir / "state/gitvault"), 0700u);
  EXPECT_EQ(SigningKey::load_or_create(path).public_key(), first);  // the same key, not a new one
  const std::string file = testing::read_text(path);
  EXPECT_NE(file.find(first.text()), std::string::npos);  // its public half said in a comment
  ::chmod(path.c_str(), 0644);
  try {
    SigningKey::load_or_create(path);
    FAIL() << "a key others can read was used";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Config);
    EXPECT_NE(std::string(e.what()).find("mode 0644"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_EQ(testing::read_text(path), file);  // and left as it was
  ::chmod(path.c_str(), 0600);
  testing::write_text(dir / "empty.key", "# nothing\n");
  ::chmod((dir / "empty.key").c_str(), 0600);
  EXPECT_THROW(SigningKey::load_or_create(dir / "empty.key"), Error);
  EXPECT_THROW(read_secret_file(dir / "state", "identity"), Error);  // a directory
}

}  // namespace
}  // namespace gitvault
