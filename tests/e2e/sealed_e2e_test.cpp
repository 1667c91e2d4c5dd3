// Sealed backups (docs/encryption.md) with the real binaries, Debian's `age` and git: what a
// reader of the destination sees, what the writer needs (its recipients and its shadow),
// what a restore needs (an identity, a trusted signer), and that damage is found.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/files.h"
#include "destination/s3_sink.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;
namespace fs = std::filesystem;

const std::vector<std::string> kRepositories = {"group/project.git", "group/project.wiki.git", "many/refs.git"};

class Sealed : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::make_fixture_storage(dir_ / "storage", 20);
    sh("age-keygen -o " + (dir_ / "team.key") + " 2>/dev/null && age-keygen -o " + (dir_ / "other.key") + " 2>/dev/null");
    recipient_ = sh("age-keygen -y " + (dir_ / "team.key"));
    recipient_.erase(recipient_.find_last_not_of('\n') + 1);
    write_config("gitvault.toml", destination(), "state");
  }
  std::string destination() const { return dir_ / "backups"; }
  // A config sealing to the team's key; `state` holds this host's signing key and shadow.
  void write_config(const std::string& name, const std::string& path, const std::string& state,
                    const std::string& extra = "") {
    testing::write_text(dir_ / name, "[[storage]]\nname = \"default\"\npath = \"" + (dir_ / "storage") +
                                         "\"\n[backup]\npath = \"" + path + "\"\n[encryption]\nrecipients = [\"" +
                                         recipient_ + "\"]\nsigning_key = \"" + (dir_ / state) +
                                         "/signing.key\"\nshadow_dir = \"" + (dir_ / state) + "/shadow\"\n" + extra);
  }
  testing::CommandResult gv(std::vector<std::string> args, bool flag_on = true, const std::string& config = "gitvault.toml") {
    args.insert(args.end(), {"--config", dir_ / config});
    return testing::gitvault(args, {{"GITVAULT_FEATURES", std::string("gitaly_backup=") + (flag_on ? "true" : "false")},
                                    {"GITVAULT_FLAGS_DB", dir_ / "flags.db"}});
  }
  std::string restored(const std::string& into, const std::string& repo) const { return dir_ / (into + "/" + repo); }
  void expect_restored_exactly(const std::string& into) {
    for (const auto& repo : kRepositories)
      EXPECT_EQ(testing::show_ref(restored(into, repo)), testing::show_ref(dir_ / ("storage/" + repo))) << repo;
  }
  std::vector<std::string> destination_files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(destination()))
      if (e.is_regular_file()) out.push_back(e.path().string());
    return out;
  }
  void push_a_commit(const std::string& repo) {
    const std::string work = dir_ / "work";
    sh("rm -rf " + work + " && git clone -q " + (dir_ / ("storage/" + repo)) + " " + work + " 2>/dev/null && cd " + work +
       " && echo more >> file.txt && git -c user.email=a@b -c user.name=n commit -qam more && git push -q origin HEAD");
  }
  ScratchDir dir_;
  std::string recipient_;
};

// Both paths, a full backup and nights after it: every file is an age file (a record keeps
// its clear header and seal line), no name or byte says a repository, project, ref or hook
// name, `age -d` gives a bundle git reads, and a restore with the identity is exact on both
// engines.
TEST_F(Sealed, BothPathsSealEveryFileNameNothingAndRestoreExactly) {
  ASSERT_EQ(gv({"backup", "--id", "s1"}).exit_code, 0);
  auto legacy = gv({"backup", "--id", "s2"}, false);
  ASSERT_EQ(legacy.exit_code, 0) << legacy.out << legacy.err;
  push_a_commit("group/project.git");
  auto night = gv({"backup", "--id", "s3", "--incremental"});
  ASSERT_EQ(night.exit_code, 0) << night.out << night.err;
  EXPECT_NE(night.out.find("written:"), std::string::npos);
  const std::string record = testing::read_text(destination() + "/+gitvault/backups/s3.json");
  EXPECT_NE(record.find("\"unchanged\":"), std::string::npos) << "the night read its shadow: unchanged steps";
  EXPECT_EQ(record.find("\"unchanged\":0}"), std::string::npos) << record.substr(0, 600);
  for (const auto& f : destination_files()) {
    const std::string rel = f.substr(destination().size() + 1);
    for (const char* word : {"group", "project", "many", "refs.git", "hashed", "wiki"})
      EXPECT_EQ(rel.find(word), std::string::npos) << rel;
    const std::string bytes = testing::read_text(f);
    for (const char* secret : {"group/", "hashed-project", "many/refs", "refs/heads/", "refs/tags/", "pre-receive"})
      EXPECT_EQ(bytes.find(secret), std::string::npos) << rel << " holds " << secret;
    if (rel.rfind("+gitvault/backups/", 0) == 0 || rel.rfind("+gitvault/chains/", 0) == 0) {
      // a clear header line, then the seal line, then an age file
      const std::size_t nl = bytes.find('\n');
      EXPECT_EQ(bytes.compare(nl + 1, 8, "gvseal1 "), 0) << rel;
      EXPECT_NE(bytes.find("\nage-encryption.org/v1\n"), std::string::npos) << rel;
      continue;
    }
    if (rel.rfind("+gitvault/", 0) == 0) continue;
    EXPECT_EQ(bytes.rfind("age-encryption.org/v1\n", 0), 0u) << rel;
  }
  // The flags' remembered state is read from the records' clear headers by any command.
  auto eval = testing::gitvault({"feature", "eval", "gitaly_backup", "--path", destination()},
                                {{"GITVAULT_FLAGS_DB", dir_ / "flags.db"}});
  EXPECT_EQ(eval.exit_code, 0) << eval.out << eval.err;
  // No +latest.toml (gitaly-backup's pointer: it could not read a sealed manifest anyway).
  EXPECT_EQ(sh("find " + destination() + " -name '+latest.toml' | wc -l"), "0\n");
  // Debian's age opens a bundle with the team's key; git reads what it gives.
  std::string bundle = sh("find " + destination() + "/s2 -name '*.bundle' -size +1k | head -n 1");
  bundle.erase(bundle.find_last_not_of('\n') + 1);
  ASSERT_FALSE(bundle.empty());
  sh("age -d -i " + (dir_ / "team.key") + " " + bundle + " > " + (dir_ / "plain.bundle"));
  EXPECT_EQ(testing::sh_status("git bundle list-heads " + (dir_ / "plain.bundle") + " | grep -q refs/heads/"), 0);
  sh("chmod 600 " + (dir_ / "team.key"));
  for (bool flag_on : {true, false}) {
    const std::string into = flag_on ? "r-pipeline" : "r-legacy";
    auto r = gv({"restore", "--storage", "default=" + (dir_ / into), "--identity", dir_ / "team.key"}, flag_on);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    expect_restored_exactly(into);
  }
  auto deep = gv({"verify", "--deep", "--identity", dir_ / "team.key"});
  EXPECT_EQ(deep.exit_code, 0) << deep.out << deep.err;
  // A restore drill of every repository, and its history sealed like the rest.
  auto drill = gv({"drill", "--all", "--scratch", dir_ / "scratch", "--identity", dir_ / "team.key"});
  EXPECT_EQ(drill.exit_code, 0) << drill.out << drill.err;
  EXPECT_EQ(testing::read_text(destination() + "/+gitvault/proof/drills.json").rfind("age-encryption.org/v1\n", 0), 0u);
  auto no_key = gv({"drill", "--all", "--scratch", dir_ / "scratch2"});
  EXPECT_EQ(no_key.exit_code, 2) << no_key.out << no_key.err;
}

// Restore and verify --deep stop before any work without an identity that opens the backup
// (naming the recipients it was sealed for) and refuse a key file others can read; `backups`,
// prune and a quick verify need none, on the writing host or any other.
TEST_F(Sealed, WithoutTheRightIdentityNothingIsReadButHeadersStillServe) {
  ASSERT_EQ(gv({"backup", "--id", "s1"}).exit_code, 0);
  ASSERT_EQ(gv({"backup", "--id", "s2"}, false).exit_code, 0);
  sh("chmod 600 " + (dir_ / "other.key") + " && chmod 644 " + (dir_ / "team.key"));
  for (std::vector<std::string> use : {std::vector<std::string>{}, {"--identity", dir_ / "other.key"},
                                       {"--identity", dir_ / "team.key"}}) {
    std::vector<std::string> cmd = {"restore", "--storage", "default=" + (dir_ / "r")};
    cmd.insert(cmd.end(), use.begin(), use.end());
    auto r = gv(cmd);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(use.size() == 2 && use[1] == dir_ / "team.key" ? "chmod 600" : recipient_), std::string::npos)
        << r.err;
    EXPECT_FALSE(path_exists(dir_ / "r/group")) << "nothing restored";
    std::vector<std::string> deep = {"verify", "--deep"};
    deep.insert(deep.end(), use.begin(), use.end());
    EXPECT_EQ(gv(deep).exit_code, 2);
  }
  // The writing host, without any identity: `backups`, prune and a quick verify read the
  // clear headers and its shadow; a sealed bundle is checked by its age header and size.
  auto list = gv({"backups"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("s2"), std::string::npos) << list.out;
  auto quick = gv({"verify"});
  EXPECT_EQ(quick.exit_code, 0) << quick.out << quick.err;
  std::string bundle = sh("find " + destination() + "/s2 -name '*.bundle' -size +1k | head -n 1");
  bundle.erase(bundle.find_last_not_of('\n') + 1);
  sh("cp " + bundle + " " + (dir_ / "saved.bundle") + " && truncate -s -1 " + bundle);
  auto cut = gv({"verify"});
  EXPECT_EQ(cut.exit_code, 1) << cut.out << cut.err;
  EXPECT_NE(cut.out.find(bundle), std::string::npos) << cut.out;
  sh("cp " + (dir_ / "saved.bundle") + " " + bundle);
  // Another host, with neither identity nor shadow: `backups`, a quick verify and prune read
  // the clear headers and the records' redacted copies (no repository name in them); no
  // signing key is made there.
  write_config("reader.toml", destination(), "reader");
  const std::string redacted = testing::read_text(destination() + "/+gitvault/redacted/s2.json");
  for (const char* secret : {"group/", "hashed-project", "many/refs", "refs/heads", "pre-receive"})
    EXPECT_EQ(redacted.find(secret), std::string::npos) << secret << " in " << redacted;
  auto other = gv({"backups"}, true, "reader.toml");
  EXPECT_EQ(other.exit_code, 0) << other.err;
  EXPECT_NE(other.out.find("s1"), std::string::npos) << other.out;
  auto quick_there = gv({"verify", "--all"}, true, "reader.toml");
  EXPECT_EQ(quick_there.exit_code, 0) << quick_there.out << quick_there.err;
  sh("truncate -s +1 " + bundle);
  auto extended = gv({"verify"}, true, "reader.toml");
  EXPECT_EQ(extended.exit_code, 1) << extended.out << extended.err;
  EXPECT_NE(extended.out.find(bundle), std::string::npos) << extended.out;
  sh("cp " + (dir_ / "saved.bundle") + " " + bundle);
  // A byte changed inside: the age file's own SHA-256, recorded at backup, finds it.
  sh("printf 'X' | dd of=" + bundle + " bs=1 seek=200 conv=notrunc 2>/dev/null");
  auto flipped = gv({"verify"}, true, "reader.toml");
  EXPECT_EQ(flipped.exit_code, 1) << flipped.out << flipped.err;
  EXPECT_NE(flipped.out.find(bundle + ": SHA-256 mismatch of the sealed file"), std::string::npos) << flipped.out;
  sh("cp " + (dir_ / "saved.bundle") + " " + bundle);
  EXPECT_FALSE(path_exists(dir_ / "reader/signing.key"));
  const std::size_t before = destination_files().size();
  auto prune = gv({"prune", "--keep-last", "1"}, true, "reader.toml");
  EXPECT_EQ(prune.exit_code, 0) << prune.out << prune.err;
  EXPECT_FALSE(path_exists(destination() + "/+gitvault/backups/s1.json"));
  EXPECT_FALSE(path_exists(destination() + "/+gitvault/redacted/s1.json"));
  EXPECT_LT(destination_files().size(), before - 5) << "s1's files went with it";
  sh("chmod 600 " + (dir_ / "team.key"));
  auto r = gv({"restore", "--storage", "default=" + (dir_ / "after-prune"), "--identity", dir_ / "team.key"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_restored_exactly("after-prune");
  auto deep = gv({"verify", "--deep", "--identity", dir_ / "team.key"});
  EXPECT_EQ(deep.exit_code, 0) << deep.out << deep.err;
  // The proofs that deep verify wrote are sealed: a host without a key lists the backups
  // all the same, the PROVEN column empty, no error.
  auto after = gv({"backups", "--json"}, true, "reader.toml");
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
  EXPECT_TRUE(path_exists(destination() + "/+gitvault/proof/proven.json"));
}

// `config check` reads [encryption]'s keys as a run would: a mistyped recipient or an
// identity file others can read is named before any night fails on it.
TEST_F(Sealed, ConfigCheckNamesABadRecipientAndAnOpenIdentityFile) {
  auto good = testing::gitvault({"config", "check", "--config", dir_ / "gitvault.toml"});
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  std::string text = testing::read_text(dir_ / "gitvault.toml");
  char& c = text[text.find(recipient_) + 10];
  c = c == 'q' ? 'p' : 'q';  // one Bech32 character changed: the checksum no longer holds
  testing::write_text(dir_ / "typo.toml", text);
  auto typo = testing::gitvault({"config", "check", "--config", dir_ / "typo.toml"});
  EXPECT_EQ(typo.exit_code, 1) << typo.out << typo.err;
  EXPECT_NE(typo.out.find("[encryption] recipients"), std::string::npos) << typo.out;
  sh("chmod 644 " + (dir_ / "team.key"));
  write_config("open.toml", destination(), "state", "identity_file = \"" + (dir_ / "team.key") + "\"\n");
  auto open = testing::gitvault({"config", "check", "--config", dir_ / "open.toml"});
  EXPECT_EQ(open.exit_code, 1) << open.out << open.err;
  EXPECT_NE(open.out.find("chmod 600"), std::string::npos) << open.out;
}

// A sealed configuration refuses a destination holding clear backups, and a configuration
// without [encryption] refuses a sealed one: exit 2, saying which, nothing written.
TEST_F(Sealed, ASealedDestinationAndAClearOneNeverMix) {
  ASSERT_EQ(gv({"backup", "--id", "s1"}).exit_code, 0);
  testing::write_text(dir_ / "clear.toml", "[[storage]]\nname = \"default\"\npath = \"" + (dir_ / "storage") +
                                               "\"\n[backup]\npath = \"" + destination() + "\"\n");
  for (std::vector<std::string> cmd : {std::vector<std::string>{"backup", "--id", "c1"}, {"backups"}, {"verify"}}) {
    auto r = gv(cmd, true, "clear.toml");
    EXPECT_EQ(r.exit_code, 2) << cmd[0] << r.out << r.err;
    EXPECT_NE(r.err.find("holds sealed backups"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(path_exists(destination() + "/+gitvault/backups/c1.json"));
  testing::write_text(dir_ / "clear2.toml", "[[storage]]\nname = \"default\"\npath = \"" + (dir_ / "storage") +
                                                "\"\n[backup]\npath = \"" + (dir_ / "clear-backups") + "\"\n");
  ASSERT_EQ(gv({"backup", "--id", "c1"}, true, "clear2.toml").exit_code, 0);
  write_config("sealed2.toml", dir_ / "clear-backups", "state");
  auto r = gv({"backup", "--id", "s2"}, true, "sealed2.toml");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("written without [encryption]"), std::string::npos) << r.err;
  EXPECT_FALSE(path_exists(dir_ / "clear-backups/+gitvault/backups/s2.json"));
}

// On a new machine, a record signed by a key the config does not trust is refused, naming
// the key; listed in trusted_signers (or --trust-any-signer, with its warning) it restores.
// A changed byte in a record's sealed part, or in a bundle, is found and named.
TEST_F(Sealed, RecordsAreSignedAndDamageIsNamed) {
  ASSERT_EQ(gv({"backup", "--id", "s1"}).exit_code, 0);
  sh("chmod 600 " + (dir_ / "team.key"));
  const std::string signer = [&] {
    const std::string record = testing::read_text(destination() + "/+gitvault/backups/s1.json");
    const std::size_t at = record.find("gvseal1 ") + 8;
    return record.substr(at, record.find(' ', at) - at);
  }();
  ASSERT_EQ(signer.rfind("gvsigner1", 0), 0u) << signer;
  write_config("new-host.toml", destination(), "new-host");
  auto untrusted = gv({"restore", "--storage", "default=" + (dir_ / "r1"), "--identity", dir_ / "team.key"}, true,
                      "new-host.toml");
  EXPECT_NE(untrusted.exit_code, 0);
  EXPECT_NE((untrusted.out + untrusted.err).find(signer), std::string::npos) << untrusted.out << untrusted.err;
  EXPECT_FALSE(path_exists(dir_ / "r1/group/project.git"));
  auto any = gv({"restore", "--storage", "default=" + (dir_ / "r2"), "--identity", dir_ / "team.key", "--trust-any-signer"},
                true, "new-host.toml");
  EXPECT_EQ(any.exit_code, 0) << any.out << any.err;
  EXPECT_NE(any.err.find("--trust-any-signer"), std::string::npos) << any.err;
  write_config("trusting.toml", destination(), "new-host", "trusted_signers = [\"" + signer + "\"]\n");
  auto trusted = gv({"restore", "--storage", "default=" + (dir_ / "r3"), "--identity", dir_ / "team.key"}, true,
                    "trusting.toml");
  ASSERT_EQ(trusted.exit_code, 0) << trusted.out << trusted.err;
  expect_restored_exactly("r3");
  // A byte of a bundle flipped: that repository fails, naming the file; the others restore.
  std::string bundle = sh("find " + destination() + " -name '*.bundle' -size +1k | head -n 1");
  bundle.erase(bundle.find_last_not_of('\n') + 1);
  sh("printf 'X' | dd of=" + bundle + " bs=1 seek=300 conv=notrunc 2>/dev/null");
  auto flipped = gv({"restore", "--storage", "default=" + (dir_ / "r4"), "--identity", dir_ / "team.key"}, true,
                    "trusting.toml");
  EXPECT_EQ(flipped.exit_code, 1) << flipped.out << flipped.err;
  EXPECT_NE(flipped.out.find(bundle), std::string::npos) << flipped.out;
  EXPECT_NE(flipped.out.find(", 1 failed"), std::string::npos) << flipped.out;  // the others restored
  // A byte of the record's sealed part flipped: the record is refused, naming it.
  const std::string record = destination() + "/+gitvault/backups/s1.json";
  const std::size_t size = fs::file_size(record);
  sh("printf 'X' | dd of=" + record + " bs=1 seek=" + std::to_string(size - 40) + " conv=notrunc 2>/dev/null");
  auto bad = gv({"restore", "--storage", "default=" + (dir_ / "r5"), "--identity", dir_ / "team.key"}, true,
                "trusting.toml");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE((bad.out + bad.err).find(record), std::string::npos) << bad.out << bad.err;
  EXPECT_FALSE(path_exists(dir_ / "r5/group/project.git"));
}

// The writer's shadow lost (a rebuilt host): the next night cannot read what it sealed
// before, so it writes full steps — larger, never wrong — and restores exactly.
TEST_F(Sealed, ANightWithoutItsShadowIsFullAndRestoresExactly) {
  ASSERT_EQ(gv({"backup", "--id", "s1"}).exit_code, 0);
  sh("rm -rf " + (dir_ / "state/shadow"));
  push_a_commit("group/project.git");
  auto night = gv({"backup", "--id", "s2", "--incremental"});
  ASSERT_EQ(night.exit_code, 0) << night.out << night.err;
  const std::string record = testing::read_text(destination() + "/+gitvault/backups/s2.json");
  EXPECT_NE(record.find("\"incremental\":0,"), std::string::npos) << record.substr(0, 600);
  sh("chmod 600 " + (dir_ / "team.key"));
  auto r = gv({"restore", "--storage", "default=" + (dir_ / "r"), "--identity", dir_ / "team.key"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_restored_exactly("r");
}

// New recipients apply to the backups after the change, which start full steps (they restore
// with the new identity alone); older backups still restore with theirs; `backups` says
// whom each was sealed for.
TEST_F(Sealed, NewRecipientsApplyToNewBackupsAndOldOnesStillRestoreWithTheirs) {
  ASSERT_EQ(gv({"backup", "--id", "s1"}).exit_code, 0);
  std::string other = sh("age-keygen -y " + (dir_ / "other.key"));
  other.erase(other.find_last_not_of('\n') + 1);
  const std::string team = recipient_;
  recipient_ = other;
  write_config("gitvault.toml", destination(), "state");
  auto night = gv({"backup", "--id", "s2", "--incremental"});
  ASSERT_EQ(night.exit_code, 0) << night.out << night.err;
  EXPECT_NE(night.err.find("the recipients changed since backup s1"), std::string::npos) << night.err;
  const std::string header = testing::read_text(destination() + "/+gitvault/backups/s2.json");
  EXPECT_NE(header.find("\"unchanged\":0}"), std::string::npos) << header.substr(0, 700);
  auto list = gv({"backups"});
  EXPECT_NE(list.out.find("sealed for " + team + ": 1 backup(s), s1"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("sealed for " + other + ": 1 backup(s), s2"), std::string::npos) << list.out;
  auto json = gv({"backups", "--json"});
  EXPECT_NE(json.out.find("\"sealed_for\":[\"" + other + "\"]"), std::string::npos) << json.out;
  sh("chmod 600 " + (dir_ / "team.key") + " " + (dir_ / "other.key"));
  auto old_one = gv({"restore", "--id", "s1", "--storage", "default=" + (dir_ / "r1"), "--identity", dir_ / "team.key"});
  ASSERT_EQ(old_one.exit_code, 0) << old_one.out << old_one.err;
  expect_restored_exactly("r1");
  auto wrong = gv({"restore", "--id", "s2", "--storage", "default=" + (dir_ / "r2"), "--identity", dir_ / "team.key"});
  EXPECT_EQ(wrong.exit_code, 2) << wrong.out << wrong.err;
  EXPECT_NE(wrong.err.find("sealed for " + other), std::string::npos) << wrong.err;
  auto new_one = gv({"restore", "--storage", "default=" + (dir_ / "r3"), "--identity", dir_ / "other.key"});
  ASSERT_EQ(new_one.exit_code, 0) << new_one.out << new_one.err;
  expect_restored_exactly("r3");
}

// Several hosts, one sealed backup: each host signs its part with its own key (printed by
// `gitvault seal-key`); a restore host trusting both restores both storages, one trusting
// only one refuses the other part, naming its signer.
TEST_F(Sealed, SeveralHostsSignTheirPartsAndARestoreTrustsThemByKey) {
  sh("mkdir -p " + (dir_ / "s1") + " " + (dir_ / "s2") + " && cp -a " + (dir_ / "storage/group") + " " + (dir_ / "s1/") +
     " && cp -a " + (dir_ / "storage/many") + " " + (dir_ / "s2/"));
  auto host_config = [&](const std::string& name, const std::string& state, const std::string& extra,
                         const std::string& storages = "") {
    testing::write_text(dir_ / name, "[[storage]]\nname = \"s1\"\npath = \"" + (dir_ / (storages + "s1")) +
                                         "\"\nhost = \"gitaly-a\"\n[[storage]]\nname = \"s2\"\npath = \"" +
                                         (dir_ / (storages + "s2")) + "\"\nhost = \"gitaly-b\"\n[backup]\npath = \"" +
                                         destination() + "\"\n[encryption]\nrecipients = [\"" + recipient_ +
                                         "\"]\nsigning_key = \"" + (dir_ / state) + "/signing.key\"\nshadow_dir = \"" +
                                         (dir_ / state) + "/shadow\"\n" + extra);
  };
  host_config("a.toml", "host-a", "");
  host_config("b.toml", "host-b", "");
  auto key_of = [&](const std::string& config) {
    auto k = gv({"seal-key"}, true, config);
    EXPECT_EQ(k.exit_code, 0) << k.err;
    return k.out.substr(0, k.out.find('\n'));
  };
  const std::string a = key_of("a.toml"), b = key_of("b.toml");
  ASSERT_NE(a, b);
  for (const auto& [config, host] : {std::pair{"a.toml", "gitaly-a"}, std::pair{"b.toml", "gitaly-b"}}) {
    auto r = gv({"backup", "--host", host, "--id", "n1"}, true, config);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  sh("chmod 600 " + (dir_ / "team.key"));
  host_config("restore-both.toml", "restorer", "trusted_signers = [\"" + a + "\", \"" + b + "\"]\n", "r/");
  for (const char* host : {"gitaly-a", "gitaly-b"}) {
    auto r = gv({"restore", "--host", host, "--identity", dir_ / "team.key"}, true, "restore-both.toml");
    ASSERT_EQ(r.exit_code, 0) << host << r.out << r.err;
  }
  EXPECT_EQ(testing::show_ref(dir_ / "r/s1/group/project.git"), testing::show_ref(dir_ / "s1/group/project.git"));
  EXPECT_EQ(testing::show_ref(dir_ / "r/s2/many/refs.git"), testing::show_ref(dir_ / "s2/many/refs.git"));
  host_config("restore-a.toml", "restorer", "trusted_signers = [\"" + a + "\"]\n", "r2/");
  auto only_a = gv({"restore", "--host", "gitaly-b", "--identity", dir_ / "team.key"}, true, "restore-a.toml");
  EXPECT_NE(only_a.exit_code, 0);
  EXPECT_NE((only_a.out + only_a.err).find(b), std::string::npos) << only_a.out << only_a.err;
  EXPECT_FALSE(path_exists(dir_ / "r2/s2/many/refs.git"));
}

// The same on object storage (the real radosgw): both paths and a night write only age
// objects under opaque names, and restore exactly with the identity.
TEST_F(Sealed, ToObjectStorageBothPathsAndANight) {
  GITVAULT_REQUIRE_S3(url);
  write_config("s3.toml", url, "state");
  ASSERT_EQ(gv({"backup", "--id", "s1"}, true, "s3.toml").exit_code, 0);
  ASSERT_EQ(gv({"backup", "--id", "s2"}, false, "s3.toml").exit_code, 0);
  push_a_commit("group/project.git");
  auto night = gv({"backup", "--id", "s3", "--incremental"}, true, "s3.toml");
  ASSERT_EQ(night.exit_code, 0) << night.out << night.err;
  auto sink = open_sink(url);
  std::size_t sealed = 0;
  for (const auto& name : sink->list_recursive("")) {
    for (const char* word : {"group", "project", "many", "hashed", "wiki"}) EXPECT_EQ(name.find(word), std::string::npos) << name;
    if (name.rfind("+gitvault/", 0) == 0) continue;
    const FilePeek p = sink->peek(name, 22, 0);
    EXPECT_EQ(p.head, "age-encryption.org/v1\n") << name;
    ++sealed;
  }
  EXPECT_GT(sealed, 10u);
  sh("chmod 600 " + (dir_ / "team.key"));
  for (bool flag_on : {true, false}) {
    const std::string into = flag_on ? "r-pipeline" : "r-legacy";
    auto r = gv({"restore", "--storage", "default=" + (dir_ / into), "--identity", dir_ / "team.key"}, flag_on, "s3.toml");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    expect_restored_exactly(into);
  }
}

}  // namespace
}  // namespace gitvault
