// The age format against two independent references: the age specification's own test
// vectors (tests/fixtures/age-testkit, from the age project) and Debian's `age` and
// `age-keygen`, both directions.
#include "seal/age.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "base/error.h"
#include "base/sha256.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;
using testing::sh_status;

struct Vector {
  std::string expect;
  std::string payload_sha256;
  std::vector<std::string> identities;
  std::string file;
};

Vector read_vector(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  std::size_t end = all.find("\n\n");
  Vector v;
  v.file = all.substr(end + 2);
  std::istringstream meta(all.substr(0, end));
  for (std::string line; std::getline(meta, line);) {
    std::size_t colon = line.find(": ");
    std::string key = line.substr(0, colon), value = line.substr(colon + 2);
    if (key == "expect") v.expect = value;
    if (key == "payload") v.payload_sha256 = value;
    if (key == "identity") v.identities.push_back(value);
  }
  return v;
}


// What decrypting `file` does: "success" (the plaintext in *plain), "no match" (Config),
// "header failure" (Corrupt before any payload) or "payload failure" (Corrupt while reading).
std::string outcome_of(const std::string& file, const std::vector<AgeIdentity>& ids, std::string* plain) {
  std::unique_ptr<AgeDecryptingReader> r;
  try {
    r = std::make_unique<AgeDecryptingReader>(std::make_unique<StringReader>(file, "vector"), ids);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::Config) return "no match";
    EXPECT_EQ(e.code(), ErrorCode::Corrupt) << e.what();
    return "header failure";
  }
  std::string out;
  try {
    char buf[4096];
    while (std::size_t n = r->read(buf, sizeof buf)) out.append(buf, n);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Corrupt) << e.what();
    return "payload failure";
  }
  if (plain) *plain = out;
  return "success";
}

std::vector<std::string> testkit_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(testing::fixtures_dir() + "/age-testkit"))
    if (e.path().filename() != "LICENSE" && e.path().filename() != "README.md") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Age, EveryVectorOfTheSpecificationsTestkitGivesItsExpectedOutcome) {
  auto files = testkit_files();
  ASSERT_GE(files.size(), 40u);
  int successes = 0;
  for (const auto& path : files) {
    Vector v = read_vector(path);
    std::vector<AgeIdentity> ids;
    for (const auto& i : v.identities) ids.push_back(parse_age_identities(i, path).at(0));
    std::string expect = v.expect == "HMAC failure" ? "header failure" : v.expect;
    std::string plain;
    std::string got = outcome_of(v.file, ids, &plain);
    EXPECT_EQ(got, expect) << path;
    if (got == "success" && expect == "success") {
      EXPECT_EQ(sha256_hex(plain), v.payload_sha256) << path;
      ++successes;
    }
  }
  EXPECT_GE(successes, 5);
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

struct Keys {
  std::string key_file;
  std::string recipient;  // age1…
};

Keys keygen(const ScratchDir& dir, const std::string& name) {
  Keys k{dir / name, ""};
  sh("age-keygen -o " + k.key_file + " 2>/dev/null");
  k.recipient = sh("age-keygen -y " + k.key_file);
  while (!k.recipient.empty() && k.recipient.back() == '\n') k.recipient.pop_back();
  return k;
}

std::vector<AgeIdentity> identities_of(const Keys& k) {
  return parse_age_identities(testing::read_text(k.key_file), k.key_file);
}

TEST(Age, KeysFromAgeKeygenParseAndAnIdentityGivesTheRecipientAgeKeygenPrints) {
  ScratchDir dir;
  Keys k = keygen(dir, "key");
  auto ids = identities_of(k);  // the file has "# created" and "# public key" comment lines
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0].recipient().text(), k.recipient);
  EXPECT_EQ(parse_age_recipient(k.recipient, "config").text(), k.recipient);
  EXPECT_EQ(parse_age_identities(ids[0].text(), "text").at(0).recipient(), ids[0].recipient());
  // A generated identity is one age-keygen -y accepts
  AgeIdentity g = AgeIdentity::generate();
  testing::write_text(dir / "generated", g.text() + "\n");
  std::string printed = sh("age-keygen -y " + dir / "generated");
  EXPECT_EQ(printed, g.recipient().text() + "\n");
  // Damaged keys are refused as configuration errors, without echoing a secret
  std::string bad = k.recipient;
  bad[10] = bad[10] == 'q' ? 'p' : 'q';
  EXPECT_THROW(parse_age_recipient(bad, "config"), Error);
  EXPECT_THROW(parse_age_recipient("age1", "config"), Error);
  EXPECT_THROW(parse_age_recipients("# only a comment\n", "recipients"), Error);
  std::string secret = ids[0].text();
  secret[20] = secret[20] == 'Q' ? 'P' : 'Q';
  try {
    parse_age_identities(secret, "keyfile");
    FAIL() << "a damaged identity was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Config);
    EXPECT_EQ(std::string(e.what()).find(secret.substr(15, 20)), std::string::npos) << e.what();
  }
}

TEST(Age, AnIdentityFileOthersCanReadIsRefusedNamingItsMode) {
  ScratchDir dir;
  Keys k = keygen(dir, "key");  // age-keygen writes it 0600
  EXPECT_EQ(read_age_identity_file(k.key_file).at(0).recipient().text(), k.recipient);
  sh("chmod 640 " + k.key_file);
  try {
    read_age_identity_file(k.key_file);
    FAIL() << "an identity file the group can read was used";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Config);
    EXPECT_NE(std::string(e.what()).find("mode 0640"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("AGE-SECRET-KEY"), std::string::npos) << e.what();
  }
  try {
    read_age_identity_file(dir / "absent");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound);
  }
}

TEST(Age, WhatGitvaultSealsAgeDecryptsAndWhatAgeSealsGitvaultReadsAtEveryChunkBoundary) {
  ScratchDir dir;
  Keys a = keygen(dir, "a"), b = keygen(dir, "b");
  std::vector<AgeRecipient> both{parse_age_recipient(a.recipient, "a"), parse_age_recipient(b.recipient, "b")};
  unsigned seed = 1;
  for (std::size_t size : {0ul, 1ul, 65535ul, 65536ul, 65537ul, 131072ul, 200000ul}) {
    std::string plain = random_bytes(size, seed++);
    testing::write_text(dir / "plain", plain);
    // gitvault → age, for each recipient
    testing::write_text(dir / "sealed.age", age_encrypt(plain, both));
    for (const Keys* k : {&a, &b}) {
      sh("age -d -i " + k->key_file + " " + dir / "sealed.age > " + dir / "opened");
      EXPECT_EQ(testing::read_text(dir / "opened"), plain) << size;
    }
    // age → gitvault
    sh("age -e -r " + a.recipient + " -r " + b.recipient + " -o " + dir / "by-age.age " + dir / "plain");
    std::string sealed = testing::read_text(dir / "by-age.age");
    EXPECT_EQ(age_decrypt(sealed, identities_of(b), "by-age"), plain) << size;
    std::string got;
    EXPECT_EQ(outcome_of(sealed, identities_of(a), &got), "success");
    EXPECT_EQ(got, plain) << size;
    // a key it was not sealed for
    Keys c = keygen(dir, "c" + std::to_string(size));
    EXPECT_EQ(outcome_of(sealed, identities_of(c), nullptr), "no match");
  }
}

// Each change to a file gitvault sealed is refused by gitvault exactly when Debian's age
// refuses it too, and never gives a wrong plaintext.
TEST(Age, ADamagedCutOrExtendedFileIsRefusedByGitvaultExactlyWhenAgeRefusesIt) {
  ScratchDir dir;
  Keys k = keygen(dir, "k");
  std::string plain = random_bytes(2 * 65536 + 100, 7);
  std::string sealed = age_encrypt(plain, {parse_age_recipient(k.recipient, "k")});
  std::size_t header = sealed.find("\n---");
  header = sealed.find('\n', header + 1) + 1;
  const std::size_t payload = header + 16, chunk = 65536 + 16;
  struct Case {
    std::string name;
    std::string file;
  };
  auto flipped = [&](std::size_t at) {
    std::string s = sealed;
    s[at] = static_cast<char>(s[at] ^ 0x01);
    return s;
  };
  std::vector<Case> cases{
      {"flip in a stanza", flipped(30)},
      {"flip in the MAC", flipped(header - 5)},
      {"flip in the nonce", flipped(header + 3)},
      {"flip in chunk 0", flipped(payload + 10)},
      {"flip in the last chunk", flipped(sealed.size() - 3)},
      {"cut at a chunk boundary", sealed.substr(0, payload + 2 * chunk)},
      {"cut inside a chunk", sealed.substr(0, sealed.size() - 40)},
      {"cut in the header", sealed.substr(0, header - 10)},
      {"garbage after the end", sealed + "x"},
      {"chunks swapped", sealed.substr(0, payload) + sealed.substr(payload + chunk, chunk) +
                             sealed.substr(payload, chunk) + sealed.substr(payload + 2 * chunk)},
      {"unchanged", sealed},
  };
  for (const auto& c : cases) {
    testing::write_text(dir / "case.age", c.file);
    int age_status = sh_status("age -d -i " + k.key_file + " -o /dev/null " + dir / "case.age 2>/dev/null");
    std::string got;
    std::string outcome = outcome_of(c.file, identities_of(k), &got);
    EXPECT_EQ(outcome == "success", age_status == 0) << c.name << ": gitvault " << outcome << ", age exit " << age_status;
    if (outcome == "success") {
      EXPECT_EQ(got, plain) << c.name;
    }
    if (c.name == "unchanged") {
      EXPECT_EQ(outcome, "success");
    }
  }
}

TEST(Age, AnEncryptorHoldsOneChunkWhateverTheFileSize) {
  std::vector<AgeRecipient> r{AgeIdentity::generate().recipient()};
  std::vector<std::size_t> writes;
  AgeEncryptor e(r, [&](const void*, std::size_t n) { writes.push_back(n); });
  std::string block(1 << 20, 'x');
  for (int i = 0; i < 20; ++i) e.write(block.data(), block.size());
  e.finish();
  // the header, the 16-byte nonce, then 320 chunks of 64 KiB and a tag each, written as sealed
  ASSERT_EQ(writes.size(), 2u + 320u);
  EXPECT_EQ(writes[1], 16u);
  for (std::size_t i = 2; i < writes.size(); ++i) ASSERT_EQ(writes[i], 65536u + 16u) << i;
}

}  // namespace
}  // namespace gitvault
