// Overlapping runs: one writer per backup directory, restore and backup of one storage
// never interleave, the holder is named, --wait waits, a run killed with -9 is taken over
// and what it left is reclaimed.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/encoding.h"
#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using nlohmann::json;
using testing::ScratchDir;
using testing::sh;

class Locking : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::make_fixture_storage(dir_ / "storage", 50);
    // A git that takes its time packing and indexing, so that a run is caught in the middle.
    testing::write_text(dir_ / "slow-git",
                        "#!/bin/sh\ncase \"$*\" in *pack-objects*|*index-pack*) sleep 0.4;; esac\nexec git \"$@\"\n");
    sh("chmod +x " + (dir_ / "slow-git"));
  }
  std::string env() const {
    return "GITVAULT_FLAGS_DB=" + (dir_ / "flags/flags.db") + " GITVAULT_GIT=" + (dir_ / "slow-git") + " ";
  }
  testing::CommandResult gv(std::vector<std::string> args) {
    return testing::gitvault(args, {{"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"}});
  }
  // Starts `gitvault ARGS` with the slow git in the background; returns its pid.
  long start_slow(const std::string& args, const std::string& name) {
    std::string out = sh(env() + testing::gitvault_binary() + " " + args + " >" + (dir_ / (name + ".out")) + " 2>&1 & echo $!");
    return std::stol(out);
  }
  // Waits until a holder file of `command` appears in the lock directory.
  void wait_for_holder(const std::string& lock_dir, const std::string& command) {
    for (int i = 0; i < 200; ++i) {
      std::string out;
      testing::sh_status("cat " + lock_dir + "/holders/*.json 2>/dev/null", &out);
      if (out.find("\"command\":\"" + command + "\"") != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "no " << command << " took the lock in " << lock_dir;
  }
  void wait_gone(long pid) {
    for (int i = 0; i < 600 && testing::sh_status("kill -0 " + std::to_string(pid)) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string backup_args(const std::string& id) {
    return "backup --storage default=" + (dir_ / "storage") + " --path " + (dir_ / "backups") + " --id " + id;
  }
  ScratchDir dir_;
};

TEST_F(Locking, ASecondWriterFailsAtOnceNamingTheHolderAndWaitWaits) {
  long pid = start_slow(backup_args("night"), "first");
  wait_for_holder(dir_ / "backups/+gitvault", "backup");
  // The same id again, and a prune: both refused at once, exit 2, the running backup named.
  auto same = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "night"});
  EXPECT_EQ(same.exit_code, 2) << same.err;
  EXPECT_NE(same.err.find("is in use by backup night (pid " + std::to_string(pid) + " on host "), std::string::npos)
      << same.err;
  auto prune = gv({"prune", "--path", dir_ / "backups", "--keep-last", "1"});
  EXPECT_EQ(prune.exit_code, 2) << prune.err;
  EXPECT_NE(prune.err.find("backup night (pid"), std::string::npos) << prune.err;
  // Readers are refused too while a backup writes (they share the lock only among themselves).
  auto verify = gv({"verify", "--path", dir_ / "backups"});
  EXPECT_EQ(verify.exit_code, 2) << verify.err;
  // With --wait, the prune waits for the backup and then runs.
  auto waited = gv({"prune", "--path", dir_ / "backups", "--keep-last", "1", "--wait", "2m"});
  EXPECT_EQ(waited.exit_code, 0) << waited.err;
  wait_gone(pid);
  std::string first = read_file(dir_ / "first.out");
  EXPECT_NE(first.find("backup night: complete"), std::string::npos) << first;
  EXPECT_EQ(gv({"verify", "--path", dir_ / "backups", "--id", "night", "--deep"}).exit_code, 0);
}

TEST_F(Locking, RestoreAndBackupOfOneStorageDoNotInterleave) {
  ASSERT_EQ(gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "b1"}).exit_code, 0);
  long pid = start_slow("restore --storage default=" + (dir_ / "storage") + " --path " + (dir_ / "backups") + " --id b1",
                        "restore");
  wait_for_holder(dir_ / "storage/+gitvault", "restore");
  auto b = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "other-backups"});
  EXPECT_EQ(b.exit_code, 2) << b.err;
  EXPECT_NE(b.err.find("storage 'default'"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("in use by restore"), std::string::npos) << b.err;
  // Waiting, the backup runs once the restore is done, and fails no repository.
  auto waited = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "other-backups",
                    "--wait", "2m", "--id", "after"});
  EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  wait_gone(pid);
  EXPECT_NE(read_file(dir_ / "restore.out").find("6 restored and verified, 0 failed"), std::string::npos)
      << read_file(dir_ / "restore.out");
}

TEST_F(Locking, AKilledBackupIsTakenOverAndWhatItLeftIsReclaimed) {
  ASSERT_EQ(gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "b1"}).exit_code, 0);
  ASSERT_EQ(gv({"feature", "set", "gitaly_backup", "false"}).exit_code, 0);  // legacy: one process to kill
  long pid = start_slow(backup_args("killed"), "killed");
  wait_for_holder(dir_ / "backups/+gitvault", "backup");
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // in the middle of a bundle
  sh("kill -KILL " + std::to_string(pid));
  wait_gone(pid);
  EXPECT_FALSE(testing::temp_files_under(dir_ / "backups").empty());
  json killed = parse_json_text(read_file(dir_ / "backups/+gitvault/backups/killed.json"));
  EXPECT_EQ(killed["status"], "running");

  auto next = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "b2"});
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_NE(next.err.find("took over the lock of " + (dir_ / "backups/") + " from backup killed (pid " +
                          std::to_string(pid)),
            std::string::npos)
      << next.err;
  EXPECT_NE(next.err.find("temporary file"), std::string::npos) << next.err;
  EXPECT_TRUE(testing::temp_files_under(dir_ / "backups").empty());

  // Prune reclaims the killed run's files (no record names them) and its record.
  EXPECT_TRUE(path_exists(dir_ / "backups/killed"));
  auto p = gv({"prune", "--path", dir_ / "backups", "--keep-last", "1"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("named by no backup"), std::string::npos) << p.out;
  EXPECT_FALSE(path_exists(dir_ / "backups/killed"));
  EXPECT_FALSE(path_exists(dir_ / "backups/+gitvault/backups/killed.json"));
  EXPECT_EQ(gv({"verify", "--path", dir_ / "backups", "--all", "--deep"}).exit_code, 0);
}

// The pipeline path: the worker gitvault spawned dies with it, so nothing keeps writing
// into the directory once its lock is free; the next backup takes over and completes.
TEST_F(Locking, AKilledPipelineBackupTakesItsWorkerWithIt) {
  // A git that packs for 3 s: killed in the middle, the worker would live on for seconds.
  testing::write_text(dir_ / "slow-git", "#!/bin/sh\ncase \"$*\" in *pack-objects*) sleep 3;; esac\nexec git \"$@\"\n");
  long pid = start_slow(backup_args("killed"), "killed");
  wait_for_holder(dir_ / "backups/+gitvault", "backup");
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  std::string worker_pids = sh("pgrep -P " + std::to_string(pid) + " -f gitaly-backup || true");
  ASSERT_FALSE(worker_pids.empty()) << "no worker running under gitvault";
  sh("kill -KILL " + std::to_string(pid));
  wait_gone(pid);
  // At once, not after finishing the job it is in.
  long worker = std::stol(worker_pids);
  for (int i = 0; i < 6 && testing::sh_status("kill -0 " + std::to_string(worker)) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_NE(testing::sh_status("kill -0 " + std::to_string(worker)), 0) << "worker outlived gitvault";
  auto next = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "b2"});
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_NE(next.err.find("from backup killed"), std::string::npos) << next.err;
  EXPECT_TRUE(testing::temp_files_under(dir_ / "backups").empty());
  EXPECT_EQ(gv({"verify", "--path", dir_ / "backups", "--id", "b2", "--deep"}).exit_code, 0);
}

}  // namespace
}  // namespace gitvault
