// Fork networks (GitLab's object pools): the pool is backed up once and each fork as a bundle
// of what the pool lacks; a restore brings the pool back first and links each fork to it
// (objects/info/alternates, relative, as GitLab writes it), so the network takes the space it
// took; a fork restored without its pool comes back self-contained and complete. The network
// is made by tests/fixtures/make-fork-network.sh with plain git.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

constexpr const char* kPool = "@pools/6b/86/6b86b273.git";
constexpr const char* kSource = "@hashed/d4/73/d4735e3a.git";
constexpr int kForks = 8;

std::string fork_path(int n) { return "@hashed/f0/" + std::to_string(n) + "/fork-" + std::to_string(n) + ".git"; }

class Pools : public ::testing::Test {
 protected:
  void SetUp() override {
    sh(std::string(GITVAULT_SOURCE_DIR) + "/tests/fixtures/make-fork-network.sh " + storage() + " " +
       std::to_string(kForks) + " 2048");
    set_pipeline(true);
  }
  std::string storage() { return dir_ / "storage"; }
  std::string backups() { return dir_ / "backups"; }
  testing::CommandResult gv(std::vector<std::string> args) {
    return testing::gitvault(args, {{"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"}});
  }
  void set_pipeline(bool on) { ASSERT_EQ(gv({"feature", "set", "gitaly_backup", on ? "true" : "false"}).exit_code, 0); }
  testing::CommandResult backup(const std::string& id, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"backup", "--storage", "default=" + storage(), "--path", backups(), "--id", id};
    args.insert(args.end(), extra.begin(), extra.end());
    return gv(args);
  }
  testing::CommandResult restore(const std::string& into, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"restore", "--storage", "default=" + into, "--path", backups()};
    args.insert(args.end(), extra.begin(), extra.end());
    return gv(args);
  }
  static std::string git(const std::string& repo, const std::string& args) {
    return sh("git -c safe.directory='*' --git-dir=" + repo + " " + args);
  }
  // Every ref and HEAD of a repository, and that `git fsck` finds it whole.
  static void expect_same_and_whole(const std::string& original, const std::string& restored) {
    EXPECT_EQ(testing::show_ref(restored), testing::show_ref(original)) << restored;
    EXPECT_EQ(testing::symbolic_head(restored), testing::symbolic_head(original)) << restored;
    std::string out;
    EXPECT_EQ(testing::sh_status("git -c safe.directory='*' --git-dir=" + restored + " fsck --full --no-dangling 2>&1",
                                 &out),
              0)
        << restored << ": " << out;
  }
  // Bytes under a directory, as du counts them.
  static std::uint64_t du_bytes(const std::string& dir) {
    return std::stoull(sh("du -sb " + dir + " | cut -f1"));
  }
  // A commit of one new file on `branch` of a bare repository, through a clone.
  void commit_to(const std::string& repo, const std::string& branch, const std::string& file) {
    sh("cd " + (dir_ / "") + " && rm -rf wt && git -c safe.directory='*' clone -q " + repo + " wt && cd wt && " +
       "git checkout -q " + branch + " && head -c 3000 /dev/urandom > " + file + " && git add " + file + " && " +
       "git -c user.name=T -c user.email=t@example.com commit -q -m " + file + " && git push -q origin " + branch +
       " && cd .. && rm -rf wt");
  }
  // A repository's entry in a backup's record, as one JSON line.
  std::string record_line(const std::string& id, const std::string& relative_path) {
    return sh("grep -F '\"relative_path\":\"" + relative_path + "\"' " + backups() + "/+gitvault/backups/" + id +
              ".json || true");
  }
  ScratchDir dir_;
};

TEST_F(Pools, AForkNetworkRoundTripsLinkedToItsPoolAndTakesTheSpaceItTook) {
  auto b = backup("b1");
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  // The pool once; each fork holds only what the pool lacks (its own commit, ~4 KiB of data).
  const std::uint64_t pool_bytes = du_bytes(backups() + "/default/" + kPool);
  EXPECT_GT(pool_bytes, 2000u * 1024);
  for (int n = 1; n <= kForks; ++n) {
    EXPECT_NE(record_line("b1", fork_path(n)).find("\"pool\":{\"relative_path\":\"" + std::string(kPool) + "\""),
              std::string::npos)
        << fork_path(n);
    EXPECT_LT(du_bytes(backups() + "/default/" + fork_path(n)), 64u * 1024) << fork_path(n);
  }
  EXPECT_LT(du_bytes(backups()), pool_bytes + 1024u * 1024);

  const std::string into = dir_ / "restored";
  auto r = restore(into);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("fork networks: " + std::to_string(kForks + 1) + " linked to the pool"), std::string::npos)
      << r.out;
  expect_same_and_whole(storage() + "/" + kPool, into + "/" + kPool);
  for (const std::string& rel : {std::string(kSource), fork_path(1), fork_path(kForks)}) {
    expect_same_and_whole(storage() + "/" + rel, into + "/" + rel);
    // Linked as GitLab links it: the same relative path to the restored pool.
    EXPECT_EQ(testing::read_text(into + "/" + rel + "/objects/info/alternates"),
              testing::read_text(storage() + "/" + rel + "/objects/info/alternates"))
        << rel;
    EXPECT_EQ(git(into + "/" + rel, "count-objects -v | grep ^size-pack | cut -d' ' -f2").substr(0, 1).size(), 1u);
  }
  // The restored network takes about the space the original did, not a pool per fork.
  EXPECT_LT(du_bytes(into), du_bytes(storage()) + 512u * 1024);
}

TEST_F(Pools, AForkRestoredWithoutItsPoolIsSelfContainedAndComplete) {
  ASSERT_EQ(backup("b1").exit_code, 0);
  for (bool pipeline : {true, false}) {  // either path restores it
    set_pipeline(pipeline);
    const std::string into = dir_ / (pipeline ? "alone-pipeline" : "alone-legacy");
    auto r = restore(into, {"--repositories-paths", fork_path(3)});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("0 linked to the pool this restore brought back, 1 self-contained"), std::string::npos)
        << r.out;
    const std::string fork = into + "/" + fork_path(3);
    EXPECT_FALSE(path_exists(fork + "/objects/info/alternates"));
    EXPECT_FALSE(path_exists(into + "/" + kPool));
    expect_same_and_whole(storage() + "/" + fork_path(3), fork);
    // Every shared blob is in the fork itself.
    EXPECT_EQ(git(fork, "cat-file -t v1.0"), "tag\n");
    EXPECT_EQ(git(fork, "cat-file -s main:blob-8.bin"), std::to_string(2048 / 8 * 1024) + "\n");
  }
}

TEST_F(Pools, AForkBackedUpWithoutItsPoolIsASelfContainedBundle) {
  auto b = backup("b1", {"--repositories-paths", fork_path(2)});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_EQ(record_line("b1", fork_path(2)).find("\"pool\""), std::string::npos);
  EXPECT_GT(du_bytes(backups() + "/default/" + fork_path(2)), 2000u * 1024);
  auto r = restore(dir_ / "restored");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string fork = dir_ / ("restored/" + fork_path(2));
  EXPECT_FALSE(path_exists(fork + "/objects/info/alternates"));
  expect_same_and_whole(storage() + "/" + fork_path(2), fork);
}

TEST_F(Pools, NightsKeepThePoolAndItsForksLinkedThroughVerifyAndPrune) {
  ASSERT_EQ(backup("n1").exit_code, 0);
  commit_to(storage() + "/" + kPool, "main", "pool-night-2.bin");  // the pool fetched new upstream work
  commit_to(storage() + "/" + fork_path(1), "fork-1", "fork-night-2.bin");
  auto n2 = backup("n2", {"--incremental"});
  ASSERT_EQ(n2.exit_code, 0) << n2.out << n2.err;
  EXPECT_NE(record_line("n2", kPool).find("\"kind\":\"incremental\""), std::string::npos);
  EXPECT_NE(record_line("n2", fork_path(1)).find("\"kind\":\"incremental\""), std::string::npos);
  for (int n : {1, 2})  // an unchanged fork is still its pool's
    EXPECT_NE(record_line("n2", fork_path(n)).find("\"pool\":{\"relative_path\""), std::string::npos) << n;
  auto v = gv({"verify", "--path", backups(), "--id", "n2", "--deep"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // Only the newest backup kept: the pool's step of n1 that the forks build on stays.
  auto p = gv({"prune", "--path", backups(), "--keep-last", "1"});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  for (bool pipeline : {true, false}) {
    set_pipeline(pipeline);
    const std::string into = dir_ / (pipeline ? "restored-pipeline" : "restored-legacy");
    auto r = restore(into);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("restore of backup n2"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("fork networks: " + std::to_string(kForks + 1) + " linked"), std::string::npos) << r.out;
    for (const std::string& rel : {std::string(kPool), fork_path(1), fork_path(2)})
      expect_same_and_whole(storage() + "/" + rel, into + "/" + rel);
  }
}

TEST_F(Pools, TheLegacyPathBacksUpForksSelfContained) {
  set_pipeline(false);
  ASSERT_EQ(backup("b1").exit_code, 0);
  EXPECT_EQ(record_line("b1", fork_path(1)).find("\"pool\""), std::string::npos);
  const std::string bundle = fork_path(1);
  EXPECT_GT(du_bytes(backups() + "/b1/default/" + bundle.substr(0, bundle.size() - 4) + ".bundle"), 2000u * 1024);
  set_pipeline(true);
  auto r = restore(dir_ / "restored");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_same_and_whole(storage() + "/" + fork_path(1), dir_ / ("restored/" + fork_path(1)));
}

TEST_F(Pools, ABrokenPoolLinkFailsThatForkByNameAndTheRestRestore) {
  ASSERT_EQ(backup("b1").exit_code, 0);
  // A record whose fork claims more pool steps than its chain has.
  const std::string record = backups() + "/+gitvault/backups/b1.json";
  sh("sed -i '/fork-4.git/s/\"steps\":1/\"steps\":7/' " + record);
  auto r = restore(dir_ / "restored");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find(std::to_string(kForks + 1) + " restored and verified, 1 failed"), std::string::npos) << r.out;
  EXPECT_NE((r.out + r.err).find(fork_path(4) + ": the pool's 7 steps are more than the 1 steps"), std::string::npos)
      << r.out << r.err;
  EXPECT_FALSE(path_exists(dir_ / ("restored/" + fork_path(4))));
  expect_same_and_whole(storage() + "/" + fork_path(5), dir_ / ("restored/" + fork_path(5)));
  auto v = gv({"verify", "--path", backups(), "--id", "b1"});
  EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
  EXPECT_NE(v.out.find("the pool's 7 steps"), std::string::npos) << v.out;
}

// The same network through object storage (the real Ceph RADOS Gateway of scripts/s3-server):
// the pool once, the forks linked on restore.
TEST_F(Pools, AForkNetworkRoundTripsThroughObjectStorage) {
  GITVAULT_REQUIRE_S3(url);
  auto b = gv({"backup", "--storage", "default=" + storage(), "--path", url, "--id", "s1"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  const std::string into = dir_ / "restored";
  auto r = gv({"restore", "--storage", "default=" + into, "--path", url});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("fork networks: " + std::to_string(kForks + 1) + " linked"), std::string::npos) << r.out;
  for (const std::string& rel : {std::string(kPool), fork_path(1), fork_path(kForks)})
    expect_same_and_whole(storage() + "/" + rel, into + "/" + rel);
  EXPECT_LT(du_bytes(into), du_bytes(storage()) + 512u * 1024);
  auto v = gv({"verify", "--path", url, "--deep"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// Sealed (docs/encryption.md): the pool is still backed up once and the forks linked to it —
// under opaque names, every file an age file — and a restore with the identity links them.
TEST_F(Pools, ASealedForkNetworkKeepsThePoolOnceAndRestoresLinked) {
  sh("age-keygen -o " + (dir_ / "team.key") + " 2>/dev/null && chmod 600 " + (dir_ / "team.key"));
  std::string recipient = sh("age-keygen -y " + (dir_ / "team.key"));
  recipient.erase(recipient.find_last_not_of('\n') + 1);
  testing::write_text(dir_ / "sealed.toml", "[encryption]\nrecipients = [\"" + recipient + "\"]\nsigning_key = \"" +
                                                (dir_ / "state/signing.key") + "\"\nshadow_dir = \"" +
                                                (dir_ / "state/shadow") + "\"\n");
  auto b = backup("b1", {"--config", dir_ / "sealed.toml"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_FALSE(std::filesystem::exists(backups() + "/default/" + kPool)) << "no clear pool path";
  EXPECT_LT(du_bytes(backups()), 2048u * 1024 + 1024u * 1024) << "the pool once";
  const std::string into = dir_ / "restored";
  auto r = restore(into, {"--config", dir_ / "sealed.toml", "--identity", dir_ / "team.key"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("fork networks: " + std::to_string(kForks + 1) + " linked to the pool"), std::string::npos)
      << r.out;
  for (const std::string& rel : {std::string(kPool), std::string(kSource), fork_path(1), fork_path(kForks)})
    expect_same_and_whole(storage() + "/" + rel, into + "/" + rel);
}

}  // namespace
}  // namespace gitvault
