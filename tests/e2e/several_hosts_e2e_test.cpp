// Several hosts, one backup: two gitvault processes acting as two Gitaly hosts, each holding
// one storage, back up into one destination under one id (a real Ceph RADOS Gateway, and a
// local directory). `backups` calls the backup complete only once both have finished; each
// host restores its own storage; verify and prune treat the parts as one backup.
#include <gtest/gtest.h>

#include <filesystem>

#include "backup/record.h"
#include "destination/s3_sink.h"
#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

class SeveralHosts : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (std::string(GetParam()) == "s3") {
      destination_ = testing::s3_test_url();
      if (destination_.empty()) {
        if (testing::running_in_ci()) FAIL() << "no S3 server (scripts/s3-server)";
        GTEST_SKIP() << "no S3 server: run scripts/test, which starts one";
      }
    } else {
      destination_ = dir_ / "backups";
    }
    for (const char* storage : {"s1", "s2"})
      for (int i = 1; i <= 4; ++i)
        commit(std::string(storage) + "/group/p" + std::to_string(i) + ".git", std::string("first-") + storage);
    // One config for both hosts, as an admin would deploy it: every storage names its host.
    config_ = write_config("gitvault.toml", "s1", "s2");
  }
  // A commit on master of the bare repository `rel` under dir_ (created when missing).
  void commit(const std::string& rel, const std::string& text) {
    const std::string repo = dir_ / rel, work = dir_ / "work";
    sh("[ -d " + repo + " ] || git init -q --bare " + repo + "; rm -rf " + work + " && git clone -q " + repo + " " +
       work + " 2>/dev/null && echo " + text + " >> " + work + "/f && git -C " + work + " add f && git -C " + work +
       " -c user.name=t -c user.email=t@example.com commit -qm " + text + " && git -C " + work +
       " push -q origin HEAD:refs/heads/master && rm -rf " + work);
  }
  std::string write_config(const std::string& name, const std::string& s1_dir, const std::string& s2_dir) {
    std::string path = dir_ / name;
    testing::write_text(path, "[[storage]]\nname = \"s1\"\npath = \"" + s1_dir + "\"\nhost = \"gitaly-a\"\n"
                              "[[storage]]\nname = \"s2\"\npath = \"" + s2_dir + "\"\nhost = \"gitaly-b\"\n"
                              "[backup]\npath = \"" + destination_ + "\"\n");
    return path;
  }
  testing::CommandResult gv(std::vector<std::string> args) {
    return testing::gitvault(args, {{"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"}});
  }
  // A shell command line running gitvault as `host`, its exit code into dir_/<out>.rc.
  std::string as_host(const std::string& host, const std::string& args, const std::string& out) {
    return "GITVAULT_FLAGS_DB=" + (dir_ / "flags/flags.db") + " " + testing::gitvault_binary() + " " + args +
           " --config " + config_ + " --host " + host + " > " + (dir_ / out) + ".out 2>&1; echo $? > " +
           (dir_ / out) + ".rc";
  }
  std::string refs_of(const std::string& storage_dir) {
    return sh("cd " + storage_dir + " && for r in group/*.git; do echo $r; git --git-dir=$r show-ref --head; done");
  }
  ScratchDir dir_;
  std::string destination_, config_;
};

TEST_P(SeveralHosts, TwoHostsWriteOneBackupThatIsCompleteOnlyWhenBothHaveFinished) {
  // Night 1: host a first, alone.
  auto a1 = gv({"backup", "--config", config_, "--host", "gitaly-a", "--id", "n1"});
  ASSERT_EQ(a1.exit_code, 0) << a1.out << a1.err;
  EXPECT_NE(a1.out.find("backup n1, part of host gitaly-a: complete"), std::string::npos) << a1.out;
  EXPECT_NE(a1.out.find("as a whole: incomplete (hosts: gitaly-a complete, gitaly-b missing)"), std::string::npos)
      << a1.out;
  auto listed = gv({"backups", "--config", config_});
  EXPECT_NE(listed.out.find("n1                   incomplete"), std::string::npos) << listed.out;
  listed = gv({"backups", "--config", config_, "--json"});
  EXPECT_NE(listed.out.find("\"status\":\"incomplete\""), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("{\"finished_at\":\"\",\"host\":\"gitaly-b\",\"repositories\":0,\"started_at\":\"\",\"status\":\"missing\"}"),
            std::string::npos) << listed.out;
  auto none = gv({"restore", "--config", config_, "--host", "gitaly-a"});
  EXPECT_EQ(none.exit_code, 2) << none.out << none.err;  // no complete backup yet
  EXPECT_NE(none.err.find("no complete backup"), std::string::npos) << none.err;
  auto early = gv({"verify", "--config", config_, "--id", "n1"});
  EXPECT_EQ(early.exit_code, 1) << early.out;
  EXPECT_NE(early.out.find("no part from host gitaly-b"), std::string::npos) << early.out;
  auto again = gv({"backup", "--config", config_, "--host", "gitaly-a", "--id", "n1"});
  EXPECT_EQ(again.exit_code, 2) << again.err;
  EXPECT_NE(again.err.find("host gitaly-a has written its part of backup n1 already"), std::string::npos) << again.err;

  auto b1 = gv({"backup", "--config", config_, "--host", "gitaly-b", "--id", "n1"});
  ASSERT_EQ(b1.exit_code, 0) << b1.out << b1.err;
  EXPECT_NE(b1.out.find("as a whole: complete"), std::string::npos) << b1.out;
  listed = gv({"backups", "--config", config_, "--json"});
  EXPECT_NE(listed.out.find("\"id\":\"n1\""), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("\"status\":\"complete\""), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("\"repositories\":8"), std::string::npos) << listed.out;

  // Night 2, incremental, both hosts at once (a local directory makes them take turns).
  commit("s1/group/p1.git", "second-a");
  commit("s2/group/p3.git", "second-b");
  const std::string args = "backup --id n2 --incremental --wait 2m";
  sh("(" + as_host("gitaly-a", args, "a2") + ") & (" + as_host("gitaly-b", args, "b2") + ") & wait");
  EXPECT_EQ(testing::read_text(dir_ / "a2.rc"), "0\n") << testing::read_text(dir_ / "a2.out");
  EXPECT_EQ(testing::read_text(dir_ / "b2.rc"), "0\n") << testing::read_text(dir_ / "b2.out");
  listed = gv({"backups", "--config", config_});
  EXPECT_NE(listed.out.find("n2                   complete"), std::string::npos) << listed.out;
  auto deep = gv({"verify", "--config", config_, "--all", "--deep"});
  EXPECT_EQ(deep.exit_code, 0) << deep.out << deep.err;
  EXPECT_NE(deep.out.find("16 repositories"), std::string::npos) << deep.out;  // both nights, both hosts

  // Each host restores its own storage from the one backup, exactly.
  const std::string restore_config = write_config("restore.toml", dir_ / "r1", dir_ / "r2");
  for (const auto& [host, storage, target] :
       {std::tuple{"gitaly-a", "s1", "r1"}, std::tuple{"gitaly-b", "s2", "r2"}}) {
    auto r = gv({"restore", "--config", restore_config, "--host", host});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("restore of backup n2: 4 restored"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("restore them there"), std::string::npos) << r.out;  // the other host's storage
    EXPECT_EQ(refs_of(dir_ / target), refs_of(dir_ / storage));
  }
  EXPECT_NE(refs_of(dir_ / "r1"), refs_of(dir_ / "r2"));  // two storages, told apart

  // Prune treats the parts as one backup: n1's parts go together, the files n2 needs stay.
  auto pruned = gv({"prune", "--config", config_, "--keep-last", "1"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.out << pruned.err;
  EXPECT_NE(pruned.out.find("removed backup n1"), std::string::npos) << pruned.out;
  auto sink = open_sink(destination_);
  EXPECT_TRUE(record_files(*sink, "n1").empty());
  EXPECT_EQ(record_files(*sink, "n2").size(), 2u);
  // Each host's increments keep their earlier steps in that host's chain file of n2.
  EXPECT_TRUE(sink->exists("+gitvault/chains/n2.hosts/gitaly-a.json"));
  EXPECT_TRUE(sink->exists("+gitvault/chains/n2.hosts/gitaly-b.json"));
  deep = gv({"verify", "--config", config_, "--all", "--deep"});
  EXPECT_EQ(deep.exit_code, 0) << deep.out << deep.err;
}

TEST_P(SeveralHosts, ABackupOfSeveralHostsNeedsAnIdAndAHostOfTheConfig) {
  auto no_id = gv({"backup", "--config", config_, "--host", "gitaly-a"});
  EXPECT_EQ(no_id.exit_code, 2) << no_id.err;
  EXPECT_NE(no_id.err.find("needs the same --id on every host"), std::string::npos) << no_id.err;
  auto stranger = gv({"backup", "--config", config_, "--host", "gitaly-z", "--id", "x1"});
  EXPECT_EQ(stranger.exit_code, 2) << stranger.err;
  EXPECT_NE(stranger.err.find("host 'gitaly-z' holds no storage"), std::string::npos) << stranger.err;
  testing::write_text(dir_ / "half.toml", "[[storage]]\nname = \"s1\"\npath = \"s1\"\nhost = \"gitaly-a\"\n"
                                          "[[storage]]\nname = \"s2\"\npath = \"s2\"\n");
  auto half = gv({"backup", "--config", dir_ / "half.toml", "--path", dir_ / "b", "--id", "x1"});
  EXPECT_EQ(half.exit_code, 2) << half.err;
  EXPECT_NE(half.err.find("'s2' names no host while others do"), std::string::npos) << half.err;
}

INSTANTIATE_TEST_SUITE_P(Destinations, SeveralHosts, ::testing::Values("local", "s3"),
                         [](const ::testing::TestParamInfo<const char*>& param) { return std::string(param.param); });

}  // namespace
}  // namespace gitvault
