// The pipeline end to end: the gitaly_backup flag choosing the path per repository, the
// gitaly-backup worker (spawned by gitvault and on its own), both layouts restoring under
// either flag setting, a killed worker, malformed jobs, concurrency limits.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/files.h"
#include "base/process.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using nlohmann::json;
using testing::ScratchDir;
using testing::sh;

class Pipeline : public ::testing::Test {
 protected:
  void SetUp() override { testing::make_fixture_storage(dir_ / "storage", 50); }
  testing::CommandResult gv(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env = {}) {
    env.push_back({"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"});
    return testing::gitvault(args, env);
  }
  void flag(const std::vector<std::string>& set_args) {
    std::vector<std::string> args = {"feature", "set", "gitaly_backup"};
    args.insert(args.end(), set_args.begin(), set_args.end());
    auto r = gv(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  json record(const std::string& id) { return json::parse(read_file(dir_ / ("backups/+gitvault/backups/" + id + ".json"))); }
  std::string refs_of_all(const std::string& storage_dir) {
    return sh("cd " + storage_dir + " && for r in $(find . -path ./+gitvault -prune -o -name '*.git' -type d -prune -print | sort); do echo $r; git --git-dir=$r show-ref --head; git --git-dir=$r symbolic-ref -q HEAD; done");
  }
  ScratchDir dir_;
};

TEST_F(Pipeline, FlagOffWritesOnlyTheLegacyLayout) {
  flag({"false"});
  auto b = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "n1"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_TRUE(path_exists(dir_ / "backups/n1/default/group/project.bundle"));
  EXPECT_FALSE(path_exists(dir_ / "backups/manifests"));
  EXPECT_FALSE(path_exists(dir_ / "backups/default"));
  json rec = record("n1");
  for (const auto& r : rec["repositories"]) {
    EXPECT_EQ(r["engine"], "legacy");
    EXPECT_NE(r["reason"].get<std::string>().find("gitaly_backup off: boolean"), std::string::npos) << r["reason"];
  }
  EXPECT_NE(b.out.find("paths: 0 pipeline, 6 legacy"), std::string::npos) << b.out;
}

// The emergency switch: with the flag off the worker is never started, not even idle.
TEST_F(Pipeline, FlagOffNeverStartsTheWorker) {
  flag({"false"});
  std::string fake = dir_ / "fake-worker";
  testing::write_text(fake, "#!/bin/sh\ntouch " + (dir_ / "worker-started") + "\nexit 3\n");
  testing::sh("chmod +x " + fake);
  auto b = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "n1",
               "--incremental"},
              {{"GITVAULT_WORKER", fake}});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_FALSE(path_exists(dir_ / "worker-started"));
  // With the flag on, the same worker is started (and its failure fails every repository).
  flag({"true"});
  auto on = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "n2"},
               {{"GITVAULT_WORKER", fake}});
  EXPECT_EQ(on.exit_code, 1) << on.out << on.err;
  EXPECT_TRUE(path_exists(dir_ / "worker-started"));
}

TEST_F(Pipeline, FlagOnWritesOnlyTheManifestLayout) {
  auto b = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "n1"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_TRUE(path_exists(dir_ / "backups/default/group/project.git/n1/001.bundle"));
  EXPECT_TRUE(path_exists(dir_ / "backups/manifests/default/group/project.git/n1.toml"));
  EXPECT_TRUE(path_exists(dir_ / "backups/manifests/default/group/project.git/+latest.toml"));
  EXPECT_FALSE(path_exists(dir_ / "backups/n1"));
  json rec = record("n1");
  for (const auto& r : rec["repositories"]) {
    EXPECT_EQ(r["engine"], "pipeline");
    EXPECT_EQ(r["layout"], "manifest");
    EXPECT_NE(r["reason"].get<std::string>().find("gitaly_backup on: default"), std::string::npos) << r["reason"];
  }
  std::string manifest = read_file(dir_ / "backups/manifests/default/group/project.git/n1.toml");
  EXPECT_NE(manifest.find("head_reference = 'refs/heads/develop'"), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("bundle_sha256 = '"), std::string::npos) << manifest;
}

std::uint32_t bucket_of(std::vector<std::string> actors) {
  std::sort(actors.begin(), actors.end());
  std::string s = "gitaly_backup";
  for (const auto& a : actors) s += a;
  return static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())) % 100000);
}

TEST_F(Pipeline, PercentageOfActorsSplitsRepositoriesByTheReferenceFormula) {
  sh("for i in $(seq 1 60); do git clone -q --bare " + (dir_ / "storage/group/project.git") + " " +
     (dir_ / "storage/bulk/r$i.git") + "; done");
  flag({"false"});
  flag({"25", "--actors"});
  auto b = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "n1"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  int pipeline = 0, total = 0;
  json rec = record("n1");
  ASSERT_EQ(rec["repositories"].size(), 66u);
  for (const auto& r : rec["repositories"]) {
    std::vector<std::string> actors = {"Repository:" + r["relative_path"].get<std::string>(),
                                       "Storage:" + r["storage"].get<std::string>()};
    if (!r["project_path"].get<std::string>().empty()) actors.push_back("Project:" + r["project_path"].get<std::string>());
    bool want = bucket_of(actors) < 25000;
    EXPECT_EQ(r["engine"], want ? "pipeline" : "legacy") << r["relative_path"];
    pipeline += want;
    ++total;
  }
  EXPECT_GT(pipeline, 5);
  EXPECT_LT(pipeline, total - 20);
  // The same repositories every night.
  auto b2 = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "n2"});
  ASSERT_EQ(b2.exit_code, 0);
  auto r1 = record("n1")["repositories"], r2 = record("n2")["repositories"];
  for (std::size_t i = 0; i < r1.size(); ++i) EXPECT_EQ(r1[i]["engine"], r2[i]["engine"]);
  // And a mixed backup restores whole with the flag off and with it on.
  for (const std::string setting : {"gitaly_backup=false", "gitaly_backup=true"}) {
    std::string target = dir_ / ("restored-" + setting.substr(14));
    auto r = gv({"restore", "--storage", "default=" + target, "--path", dir_ / "backups", "--id", "n1"},
                {{"GITVAULT_FEATURES", setting}});
    ASSERT_EQ(r.exit_code, 0) << setting << r.out << r.err;
    EXPECT_EQ(refs_of_all(target), refs_of_all(dir_ / "storage")) << setting;
  }
}

TEST_F(Pipeline, BackupsOfEitherPathRestoreWithTheFlagEitherWay) {
  flag({"false"});
  ASSERT_EQ(gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "legacy"}).exit_code, 0);
  flag({"true"});
  ASSERT_EQ(gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "pipe"}).exit_code, 0);
  std::string want = refs_of_all(dir_ / "storage");
  for (const std::string id : {"legacy", "pipe"})
    for (const std::string setting : {"false", "true"}) {
      std::string target = dir_ / ("r-" + id + "-" + setting);
      auto r = gv({"restore", "--storage", "default=" + target, "--path", dir_ / "backups", "--id", id},
                  {{"GITVAULT_FEATURES", "gitaly_backup=" + setting}});
      ASSERT_EQ(r.exit_code, 0) << id << setting << r.out << r.err;
      EXPECT_NE(r.out.find(setting == "true" ? "paths: 6 pipeline, 0 legacy" : "paths: 0 pipeline, 6 legacy"),
                std::string::npos) << r.out;
      EXPECT_EQ(refs_of_all(target), want) << id << " restored with gitaly_backup=" << setting;
    }
}

TEST_F(Pipeline, KilledWorkerFailsItsUnfinishedRepositoriesAndTheBackupIsNotComplete) {
  std::string fake = dir_ / "slow-git";
  testing::write_text(fake, "#!/bin/sh\ncase \"$*\" in *many/refs.git*pack-objects*) echo $PPID > " + (dir_ / "worker.pid") +
                                "; echo $$ > " + (dir_ / "hung.pid") + "; exec sleep 60;; esac\nexec git \"$@\"\n");
  sh("chmod +x " + fake);
  std::thread killer([&] {
    for (int i = 0; i < 200 && !path_exists(dir_ / "hung.pid"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    sh("kill -KILL $(cat " + (dir_ / "worker.pid") + "); kill $(cat " + (dir_ / "hung.pid") + ")");
  });
  auto b = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "n1",
               "--parallel", "1"},
              {{"GITVAULT_GIT", fake}});
  killer.join();
  EXPECT_EQ(b.exit_code, 1) << b.out << b.err;
  EXPECT_NE(b.out.find("ended before backing up this repository: killed by signal 9"), std::string::npos) << b.out;
  json rec = record("n1");
  EXPECT_NE(rec["status"], "complete");
  ASSERT_EQ(rec["repositories"].size(), 6u);
  for (const auto& r : rec["repositories"])
    if (r["relative_path"] == "many/refs.git") {
      EXPECT_EQ(r["status"], "failed");
    }
}

TEST_F(Pipeline, WorkerOnItsOwnReportsMalformedJobsByLineAndRunsTheRest) {
  ProcessSpec spec;
  spec.program = GITVAULT_WORKER_BIN;
  spec.args = {"create", "-path", dir_ / "wb", "-storage", "default=" + (dir_ / "storage"), "-id", "w1"};
  std::string input =
      "{\"storage_name\":\"default\",\"relative_path\":\"group/project.git\",\"gl_project_path\":\"group/project\"}\n"
      "{\"storage_name\":\"default\"}\n"
      "not json\n"
      "{\"storage_name\":\"other\",\"relative_path\":\"x.git\"}\n"
      "{\"storage_name\":\"default\",\"relative_path\":\"../../etc.git\"}\n"
      "{\"storage_name\":\"default\",\"relative_path\":\"group/detached.git\",\"always_create\":\"yes\"}\n"
      "{\"storage_name\":\"default\",\"relative_path\":\"many/refs.git\"}\n";
  spec.stdin_producer = [&](PipeWriter& w) { w.write(input.data(), input.size()); };
  ProcessResult r = run_process(spec);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("create: pipeline: 5 failures encountered:"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("stdin line 2: missing \\\"relative_path\\\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stdin line 3: not a JSON object"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stdin line 6: \\\"always_create\\\" must be true or false"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown storage 'other'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("refused: '..' component"), std::string::npos) << r.out;
  int completed = 0;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    json j = json::parse(line);
    EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("msg")) << line;
    if (j["msg"] == "completed create") {
      ++completed;
      EXPECT_TRUE(j.contains("duration_seconds") && j.contains("bytes"));
    }
  }
  EXPECT_EQ(completed, 2);
  EXPECT_TRUE(path_exists(dir_ / "wb/manifests/default/many/refs.git/w1.toml"));
}

// Hostile stdin: every non-blank line gets exactly one answer naming it, the worker never
// dies, and the valid jobs around the bad ones are done.
TEST_F(Pipeline, WorkerAnswersEveryHostileLineAndKeepsGoing) {
  ProcessSpec spec;
  spec.program = GITVAULT_WORKER_BIN;
  spec.args = {"create", "-path", dir_ / "wb", "-storage", "default=" + (dir_ / "storage"), "-id", "w1"};
  std::vector<std::string> bad = {
      "garbage",
      "{\"storage_name\":\"default\",\"relative_path\":\"caf\xe9.git\"}",  // raw invalid UTF-8
      "{\"storage_name\":\"default\",\"relative_path\":\"a\\u0000b.git\"}",  // NUL byte
      "{\"storage_name\":1,\"relative_path\":\"x.git\"}",
      "{\"storage_name\":\"default\",\"relative_path\":[]}",
      "[1,2,3]",
      "{\"storage_name\":\"default\",\"relative_path\":\"x.git\",\"always_create\":1}",
      "{\"storage_name\":\"default\",\"relative_path\":\"\"}",
      "{\"storage_name\":\"default\",\"relative_path\":\"x.git\",\"relative_path_raw\":\"%%%\"}",
      "{\"storage_name\":\"" + std::string(10 * 1024 * 1024, 'a') + "\"}",
      std::string("{\"storage_name\":\"default\",\0\"relative_path\":\"x\"}", 44),
      "{\"storage_name\":\"default\",\"relative_path\":\"/etc/passwd\"}",
      "{\"storage_name\":\"nope\",\"relative_path\":\"x.git\"}",
  };
  std::string input = "{\"storage_name\":\"default\",\"relative_path\":\"group/project.git\"}\n";
  for (const auto& b : bad) input += b + "\n";
  input += "{\"storage_name\":\"default\",\"relative_path\":\"group/detached.git\"}\n";
  spec.stdin_producer = [&](PipeWriter& w) { w.write(input.data(), input.size()); };
  ProcessResult r = run_process(spec);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_EQ(r.signal, 0);
  std::map<std::size_t, int> invalid_answers;
  int failed = 0, completed = 0;
  bool finished = false;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    json j = json::parse(line);  // every answer is valid JSON (and so valid UTF-8)
    if (j["msg"] == "invalid job") ++invalid_answers[j["line"].get<std::size_t>()];
    if (j["msg"] == "create failed") ++failed;
    if (j["msg"] == "completed create") ++completed;
    if (j["msg"] == "finished") finished = true;
  }
  EXPECT_TRUE(finished);
  EXPECT_EQ(completed, 2);
  EXPECT_EQ(failed, 2);  // /etc/passwd (absolute) and the unknown storage: refused per job
  EXPECT_EQ(invalid_answers.size(), bad.size() - 2);
  for (const auto& [line, n] : invalid_answers) EXPECT_EQ(n, 1) << "line " << line;
  EXPECT_NE(r.out.find("line too long"), std::string::npos);
}

TEST_F(Pipeline, ConcurrencyLimitsHoldAndOneStorageDoesNotBlockAnother) {
  for (int s = 1; s <= 2; ++s)
    sh("for i in $(seq 1 6); do git clone -q --bare " + (dir_ / "storage/group/project.git") + " " +
       (dir_ / ("s" + std::to_string(s) + "/r$i.git")) + "; done");
  std::string fake = dir_ / "counting-git";
  testing::write_text(fake,
                      "#!/bin/sh\ncase \"$*\" in *pack-objects*)\n"
                      "  s=$(echo \"$*\" | grep -o '/s[12]/' | head -1)\n"
                      "  ( flock 9; echo \"start $s\" >> " + (dir_ / "events") + " ) 9>" + (dir_ / "lock") + "\n"
                      "  sleep 0.3; git \"$@\"; rc=$?\n"
                      "  ( flock 9; echo \"end $s\" >> " + (dir_ / "events") + " ) 9>" + (dir_ / "lock") + "\n"
                      "  exit $rc;;\nesac\nexec git \"$@\"\n");
  sh("chmod +x " + fake);
  auto b = gv({"backup", "--storage", "s1=" + (dir_ / "s1"), "--storage", "s2=" + (dir_ / "s2"), "--path",
               dir_ / "backups", "--parallel", "3", "--parallel-storage", "2"},
              {{"GITVAULT_GIT", fake}});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  std::map<std::string, int> running, max_per;
  int total = 0, max_total = 0, starts = 0;
  std::istringstream events(read_file(dir_ / "events"));
  for (std::string kind, s; events >> kind >> s;) {
    int d = kind == "start" ? 1 : -1;
    starts += d > 0;
    running[s] += d;
    total += d;
    max_per[s] = std::max(max_per[s], running[s]);
    max_total = std::max(max_total, total);
  }
  EXPECT_EQ(starts, 12);
  EXPECT_EQ(max_per["/s1/"], 2);
  EXPECT_EQ(max_per["/s2/"], 2);
  EXPECT_EQ(max_total, 3);  // s2 used the third slot while s1's queue was still long
}

// gitaly-backup reads +latest.toml: when prune removed the files it names, it becomes a copy
// of the newest remaining manifest of the repository — newest by time, not by id (ids need
// not sort by time: z1, b2 and a3 were made in that order).
TEST_F(Pipeline, PruneRepairsALatestManifestThatNamesRemovedFilesWithTheNewestRemainingOne) {
  for (const char* id : {"z1", "b2", "a3"}) {
    auto b = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", id,
                 "--independent"});
    ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // started_at orders them
  }
  const std::string repo = dir_ / "backups/manifests/default/group/project.git/";
  testing::write_text(repo + "+latest.toml", read_file(repo + "z1.toml"));  // as if a3 and b2 had not written it
  auto p = gv({"prune", "--path", dir_ / "backups", "--keep-last", "2"});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_FALSE(path_exists(repo + "z1.toml"));
  EXPECT_EQ(read_file(repo + "+latest.toml"), read_file(repo + "a3.toml"));
}

}  // namespace
}  // namespace gitvault
