// End-to-end: the real gitvault binary on real repositories made by git.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;

// These tests are about the legacy path: pin it, whatever the flag store says.
testing::CommandResult gitvault(const std::vector<std::string>& args,
                                std::vector<std::pair<std::string, std::string>> env = {}) {
  env.push_back({"GITVAULT_FEATURES", "gitaly_backup=false"});
  return testing::gitvault(args, env);
}
using testing::sh;

class E2E : public ::testing::Test {
 protected:
  void SetUp() override { testing::make_fixture_storage(dir_ / "storage", 100); }
  std::string storage() { return "default=" + (dir_ / "storage"); }
  std::string backups() { return dir_ / "backups"; }
  ScratchDir dir_;
};

TEST_F(E2E, BackupThenRestoreIntoScratchStorageIsExact) {
  auto b = gitvault({"backup", "--storage", storage(), "--path", backups(), "--id", "night1"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_NE(b.out.find("backup night1: complete"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("6 (5 ok, 1 empty, 0 failed)"), std::string::npos) << b.out;
  auto r = gitvault({"restore", "--storage", "default=" + (dir_ / "scratch"), "--path", backups()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("6 restored and verified, 0 failed"), std::string::npos) << r.out;
  EXPECT_EQ(sh("cd " + (dir_ / "storage") + " && for r in $(find . -name '*.git' -type d -prune | sort); do echo $r; git "
               "--git-dir=$r show-ref --head; git --git-dir=$r symbolic-ref -q HEAD; done"),
            sh("cd " + (dir_ / "scratch") + " && for r in $(find . -path ./+gitvault -prune -o -name '*.git' -type d "
               "-prune -print | sort); do echo $r; git --git-dir=$r show-ref --head; git --git-dir=$r symbolic-ref -q "
               "HEAD; done"));
}

TEST_F(E2E, ConfigFileGivesStoragesAndBackupPath) {
  testing::write_text(dir_ / "gitvault.toml", "[[storage]]\nname = \"default\"\npath = \"storage\"\n[backup]\npath = \"bk\"\n");
  auto b = gitvault({"backup", "--config", dir_ / "gitvault.toml"});
  EXPECT_EQ(b.exit_code, 0) << b.err;
  EXPECT_TRUE(path_exists(dir_ / "bk/+gitvault/backups"));
}

TEST_F(E2E, UsageAndConfigurationErrorsExitTwo) {
  testing::write_text(dir_ / "bad.toml", "[[storage]\n");
  std::vector<std::vector<std::string>> cases = {
      {"backup", "--path", backups()},                                             // no storage
      {"backup", "--storage", "nodir", "--path", backups()},                       // malformed storage
      {"backup", "--storage", "default=" + (dir_ / "missing"), "--path", backups()},  // storage dir missing
      {"backup", "--storage", storage()},                                          // no backup path
      {"backup", "--config", dir_ / "bad.toml", "--path", backups()},              // unreadable config
      {"backup", "--no-such-option"},
      {"restore", "--storage", storage(), "--path", backups(), "--id", "nope"},    // no such backup
      {},
  };
  for (const auto& args : cases) {
    auto r = gitvault(args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(args) << r.err;
    if (args.size() > 2) {
      EXPECT_NE(r.err.find("gitvault"), std::string::npos) << r.err;
    }
  }
}

TEST_F(E2E, FailedRepositoryGivesExitOneAndNamesIt) {
  sh("echo '" + std::string(40, 'e') + " refs/heads/ghost' >> " + (dir_ / "storage/group/project.wiki.git/packed-refs"));
  auto b = gitvault({"backup", "--storage", storage(), "--path", backups(), "--id", "n1"});
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.out.find("backup n1: partial"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("1 failures encountered:\n - default group/project.wiki.git (no project path): "),
            std::string::npos)
      << b.out;
  // The newest complete backup is what restore takes by default: there is none.
  auto r = gitvault({"restore", "--storage", "default=" + (dir_ / "scratch"), "--path", backups()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no complete backup"), std::string::npos) << r.err;
  // The good repositories of a partial backup can still be restored by naming it.
  r = gitvault({"restore", "--storage", "default=" + (dir_ / "scratch"), "--path", backups(), "--id", "n1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("5 restored and verified, 1 failed"), std::string::npos) << r.out;
}

TEST_F(E2E, RealWriteFailureMidBackupLeavesNoFileUnderAFinalName) {
  // A file-size limit makes write(2) fail with EFBIG, as a full quota does.
  testing::make_fixture_storage(dir_ / "big", 3000);
  auto b = gitvault({"backup", "--storage", "default=" + (dir_ / "big"), "--path", backups(), "--id", "n1"});
  ASSERT_EQ(b.exit_code, 0);
  std::string cmd = "trap '' XFSZ; ulimit -f 64; GITVAULT_FEATURES=gitaly_backup=false exec " + testing::gitvault_binary() + " backup --storage default=" +
                    (dir_ / "big") + " --path " + backups() + " --id n2";
  std::string out;
  int rc = testing::sh_status(cmd, &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("backup n2: partial"), std::string::npos) << out;
  EXPECT_NE(out.find("many/refs.git"), std::string::npos) << out;
  EXPECT_NE(out.find("File too large"), std::string::npos) << out;
  EXPECT_FALSE(path_exists(backups() + "/n2/default/many/refs.bundle"));
  EXPECT_TRUE(testing::temp_files_under(backups()).empty());
}

TEST_F(E2E, KilledBackupIsNeverReportedComplete) {
  // A git that hangs on one repository, so the run can be killed at a known point.
  std::string fake = dir_ / "slow-git";
  testing::write_text(fake, "#!/bin/sh\ncase \"$*\" in *many/refs.git*pack-objects*) echo $PPID > " + (dir_ / "gitvault.pid") +
                                "; echo $$ > " + (dir_ / "hung.pid") + "; exec sleep 60;; esac\nexec git \"$@\"\n");
  sh("chmod +x " + fake);
  std::thread killer([&] {
    for (int i = 0; i < 200 && !path_exists(dir_ / "hung.pid"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    sh("kill -KILL $(cat " + (dir_ / "gitvault.pid") + "); kill $(cat " + (dir_ / "hung.pid") + ")");
  });
  auto b = gitvault({"backup", "--storage", storage(), "--path", backups(), "--id", "killed"}, {{"GITVAULT_GIT", fake}});
  killer.join();
  EXPECT_EQ(b.exit_code, 128 + SIGKILL);
  EXPECT_NE(testing::read_text(backups() + "/+gitvault/backups/killed.json").find("\"status\":\"running\""),
            std::string::npos);
  auto r = gitvault({"restore", "--storage", "default=" + (dir_ / "scratch"), "--path", backups(), "--id", "killed"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("never finished"), std::string::npos) << r.err;
  EXPECT_FALSE(path_exists(backups() + "/killed/default/many/refs.bundle"));
}

TEST_F(E2E, JsonOutputIsOneObjectPerLine) {
  auto b = gitvault({"backup", "--storage", storage(), "--path", backups(), "--json"});
  ASSERT_EQ(b.exit_code, 0);
  EXPECT_NE(b.out.find("{\"bytes\":"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("\"status\":\"complete\""), std::string::npos) << b.out;
  EXPECT_EQ(std::count(b.err.begin(), b.err.end(), '\n'), 6) << b.err;
}

}  // namespace
}  // namespace gitvault
