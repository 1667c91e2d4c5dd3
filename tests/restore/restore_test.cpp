#include "run/restore_run.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "run/backup_run.h"
#include "base/error.h"
#include "base/files.h"
#include "base/sha256.h"
#include "restore/repository_restore.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

class Restore : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("GITVAULT_FEATURES", "gitaly_backup=false", 1);  // the legacy path
    testing::make_fixture_storage(dir_ / "storage", refs_count());
    BackupRunOptions b;
    b.storages = {{"default", dir_ / "storage"}};
    b.id = "b1";
    ASSERT_EQ(run_backup(b, sink_).exit_code, 0);
    opts_.storages = {{"default", dir_ / "restored"}};
  }
  virtual int refs_count() const { return 50; }
  std::string bundle_of(const std::string& rel_no_git) { return dir_ / ("backups/b1/default/" + rel_no_git + ".bundle"); }
  void flip_byte(const std::string& path, long offset_from_end) {
    std::string data = read_file(path);
    data[data.size() - static_cast<std::size_t>(offset_from_end)] ^= 0x01;
    testing::write_text(path, data);
  }
  // Rewrites the record so the named file's checksum matches its (tampered) content.
  void rerecord(const std::string& file_name) {
    std::string rec_path = dir_ / "backups/+gitvault/backups/b1.json";
    auto j = nlohmann::json::parse(read_file(rec_path));
    std::string data = read_file(dir_ / ("backups/" + file_name));
    for (auto& r : j["repositories"])
      for (const char* k : {"bundle", "refs", "custom_hooks"})
        if (!r[k].is_null() && r[k]["name"] == file_name) {
          r[k]["sha256"] = sha256_hex(data);
          r[k]["size"] = data.size();
        }
    testing::write_text(rec_path, j.dump());
  }
  ScratchDir dir_;
  LocalSink sink_{dir_ / "backups"};
  RestoreRunOptions opts_;
};

TEST_F(Restore, RoundTripRestoresEveryRefHeadHooksAndProjectPath) {
  RestoreRunResult r = run_restore(opts_, sink_);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.restored, 6u);
  for (const auto& rel : {"group/project.git", "group/detached.git", "group/project.wiki.git", "group/sub/empty.git",
                          "many/refs.git"}) {
    std::string a = dir_ / ("storage/" + std::string(rel)), b = dir_ / ("restored/" + std::string(rel));
    EXPECT_EQ(testing::show_ref(b), testing::show_ref(a)) << rel;
    EXPECT_EQ(testing::symbolic_head(b), testing::symbolic_head(a)) << rel;
  }
  std::string p = dir_ / "restored/group/project.git";
  EXPECT_EQ(sh("git --git-dir=" + p + " fsck --full --no-dangling && echo ok"), "ok\n");
  EXPECT_EQ(testing::read_text(p + "/custom_hooks/pre-receive.d/check"), "#!/bin/sh\nexit 0\n");
  EXPECT_EQ(sh("git --git-dir=" + p + " config gitlab.fullpath"), "group/project\n");
  EXPECT_EQ(sh("git --git-dir=" + p + " notes list | wc -l"), "1\n");
  EXPECT_EQ(sh("git --git-dir=" + (dir_ / "restored/group/sub/empty.git") + " symbolic-ref HEAD"), "refs/heads/trunk\n");
  EXPECT_TRUE(read_file(dir_ / "restored/group/sub/empty.git/packed-refs").find("refs/") == std::string::npos);
  // Nothing left in the temporary area.
  EXPECT_EQ(sh("ls -A " + (dir_ / "restored/+gitvault/tmp")), "");
}

class RestoreManyRefs : public Restore {
  int refs_count() const override { return 5000; }
};

TEST_F(RestoreManyRefs, FiveThousandRefsRoundTripAndStayPacked) {
  opts_.filter = PathFilter({"many"}, {});
  EXPECT_EQ(run_restore(opts_, sink_).exit_code, 0);
  std::string b = dir_ / "restored/many/refs.git";
  EXPECT_EQ(testing::show_ref(b), testing::show_ref(dir_ / "storage/many/refs.git"));
  EXPECT_EQ(sh("find " + b + "/refs -type f | wc -l"), "0\n");  // no loose refs
}

TEST_F(Restore, ExistingRepositoryIsReplacedAtomically) {
  ASSERT_EQ(run_restore(opts_, sink_).exit_code, 0);
  std::string target = dir_ / "restored/group/project.git";
  sh("git --git-dir=" + target + " update-ref refs/heads/added-later HEAD");
  ASSERT_EQ(run_restore(opts_, sink_).exit_code, 0);
  EXPECT_EQ(testing::show_ref(target), testing::show_ref(dir_ / "storage/group/project.git"));
  EXPECT_EQ(sh("ls -A " + (dir_ / "restored/+gitvault/tmp")), "");
}

TEST_F(Restore, TemporaryDirectoriesOfKilledRestoresAreRemovedLiveOnesKept) {
  std::string tmp = dir_ / "restored/+gitvault/tmp";
  std::string dead_pid = sh("sh -c 'echo $$'");  // a process that has exited
  dead_pid.erase(dead_pid.find_last_not_of("\n") + 1);
  std::string dead = tmp + "/restore-" + dead_pid + "-0-1", live = tmp + "/restore-" + std::to_string(::getpid()) + "-7-7";
  sh("mkdir -p " + dead + "/objects/pack " + live + "/objects");
  ASSERT_EQ(run_restore(opts_, sink_).exit_code, 0);
  EXPECT_FALSE(path_exists(dead));
  EXPECT_TRUE(path_exists(live));  // its process (this test) is alive: maybe still restoring
}

TEST_F(Restore, RestoreKeepsExistingRepositoryWhenBundleIsCorrupt) {
  ASSERT_EQ(run_restore(opts_, sink_).exit_code, 0);
  std::string target = dir_ / "restored/group/project.git";
  sh("git --git-dir=" + target + " update-ref refs/heads/only-here HEAD");
  std::string before = testing::show_ref(target);
  flip_byte(bundle_of("group/project"), 100);
  opts_.filter = PathFilter({"group/project.git"}, {});
  RestoreRunResult r = run_restore(opts_, sink_);
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_NE(r.failures[0].reason.find(bundle_of("group/project")), std::string::npos) << r.failures[0].reason;
  EXPECT_NE(r.failures[0].reason.find("SHA-256 mismatch"), std::string::npos) << r.failures[0].reason;
  EXPECT_EQ(testing::show_ref(target), before);
  EXPECT_EQ(sh("ls -A " + (dir_ / "restored/+gitvault/tmp")), "");
}

TEST_F(Restore, DamageThatMatchesTheRecordedChecksumIsStillCaughtByIndexPack) {
  flip_byte(bundle_of("group/project"), 100);
  rerecord("b1/default/group/project.bundle");
  opts_.filter = PathFilter({"group/project.git"}, {});
  RestoreRunResult r = run_restore(opts_, sink_);
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_NE(r.failures[0].reason.find("index-pack"), std::string::npos) << r.failures[0].reason;
  EXPECT_FALSE(path_exists(dir_ / "restored/group/project.git"));
}

TEST_F(Restore, BundleMissingAReachableObjectIsRefusedEvenWithMatchingChecksum) {
  // A well-formed pack (valid checksum) that lacks one blob the refs reach.
  std::string repo = dir_ / "storage/group/project.git", b = bundle_of("group/project");
  std::string header = sh("sed -n '1,/^$/p' " + b);
  sh("cd " + repo + " && blob=$(git rev-parse main:file.txt) && git rev-list --objects --all | cut -d' ' -f1 | "
     "grep -v $blob | git pack-objects --stdout -q > " + (dir_ / "partial.pack"));
  testing::write_text(b, header + read_file(dir_ / "partial.pack"));
  rerecord("b1/default/group/project.bundle");
  opts_.filter = PathFilter({"group/project.git"}, {});
  RestoreRunResult r = run_restore(opts_, sink_);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_NE(r.failures[0].reason.find("index-pack rejected the pack"), std::string::npos) << r.failures[0].reason;
  EXPECT_FALSE(path_exists(dir_ / "restored/group/project.git"));
}

TEST_F(Restore, TruncatedBundleFailsNamingTheFile) {
  std::string b = bundle_of("many/refs");
  sh("truncate -s 2000 " + b);
  RestoreRunResult r = run_restore(opts_, sink_);
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].relative_path, "many/refs.git");
  EXPECT_NE(r.failures[0].reason.find(b), std::string::npos) << r.failures[0].reason;
  EXPECT_EQ(r.restored, 5u);
  EXPECT_FALSE(path_exists(dir_ / "restored/many/refs.git"));
}

TEST_F(Restore, MissingBundleFailsNamingTheFile) {
  std::string b = bundle_of("group/detached");
  sh("rm " + b);
  RestoreRunResult r = run_restore(opts_, sink_);
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_NE(r.failures[0].reason.find(b), std::string::npos) << r.failures[0].reason;
}

TEST_F(Restore, TamperedRefsFileIsRefusedEvenWithMatchingChecksum) {
  std::string refs = dir_ / "backups/b1/default/group/project.refs";
  sh("sed -i 's#refs/heads/main#refs/heads/mainx#' " + refs);
  rerecord("b1/default/group/project.refs");
  opts_.filter = PathFilter({"group/project"}, {});
  RestoreRunResult r = run_restore(opts_, sink_);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_NE(r.failures[0].reason.find("does not match the recorded refs"), std::string::npos) << r.failures[0].reason;
}

TEST_F(Restore, OneRepositoryOrOneGroupCanBeSelected) {
  opts_.filter = PathFilter({"group/hashed-project"}, {});  // by project path
  RestoreRunResult r = run_restore(opts_, sink_);
  EXPECT_EQ(r.restored, 1u);
  EXPECT_EQ(sh("find " + (dir_ / "restored") + " -name '*.git' -path '*@hashed*' | wc -l"), "1\n");
  opts_.filter = PathFilter({"group/sub"}, {});
  EXPECT_EQ(run_restore(opts_, sink_).restored, 1u);
  EXPECT_TRUE(path_exists(dir_ / "restored/group/sub/empty.git/HEAD"));
  EXPECT_FALSE(path_exists(dir_ / "restored/group/project.git"));
}

TEST_F(Restore, TargetReachedThroughASymlinkIsRefusedAndNotTouched) {
  sh("mkdir -p " + (dir_ / "restored") + " " + (dir_ / "elsewhere") + " && ln -s " + (dir_ / "elsewhere") + " " +
     (dir_ / "restored/group"));
  RestoreRunResult r = run_restore(opts_, sink_);
  EXPECT_EQ(r.failures.size(), 4u);  // everything under group/
  EXPECT_EQ(sh("ls -A " + (dir_ / "elsewhere")), "");
}

TEST_F(Restore, DefaultIsNewestCompleteBackupAndUnfinishedOnesAreRefused) {
  std::string rec = read_file(dir_ / "backups/+gitvault/backups/b1.json");
  auto j = nlohmann::json::parse(rec);
  j["id"] = "b2";
  j["status"] = "running";
  j["started_at"] = "2999-01-01T00:00:00Z";
  testing::write_text(dir_ / "backups/+gitvault/backups/b2.json", j.dump());
  RestoreRunResult r = run_restore(opts_, sink_);
  EXPECT_EQ(r.id, "b1");
  opts_.id = "b2";
  try {
    run_restore(opts_, sink_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("never finished"), std::string::npos);
  }
  opts_.id = "nope";
  EXPECT_THROW(run_restore(opts_, sink_), Error);
}

}  // namespace
}  // namespace gitvault
