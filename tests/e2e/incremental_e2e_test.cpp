// Nightly incrementals, verify and retention end to end with the real binaries: a week of
// nights on real repositories (commits, new and deleted branches and tags, a rewritten and
// garbage-collected branch, an unchanged repository, the flag off on one night), every
// night restored and compared with the repositories as they were that night; verify naming
// tampered files; prune keeping what kept backups need, and finishing after a crash.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "run/prune_run.h"
#include "destination/sink.h"
#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using nlohmann::json;
using testing::ScratchDir;
using testing::sh;

class Incremental : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::make_fixture_storage(dir_ / "storage", 20);
    // A repository that changes from night to night, and a working copy to change it with.
    sh("cd " + dir_.path() + " && git init -q --bare -b main storage/work/app.git && git init -q -b main wc && cd wc && "
       "git config user.name T && git config user.email t@example.com && "
       "echo 1 > a && git add a && git commit -qm one && git remote add origin ../storage/work/app.git && "
       "git push -q origin main && git tag -a v1 -m v1 && git push -q origin v1");
  }
  testing::CommandResult gv(std::vector<std::string> args, bool flag_on = true,
                            std::vector<std::pair<std::string, std::string>> env = {}) {
    env.push_back({"GITVAULT_FEATURES", std::string("gitaly_backup=") + (flag_on ? "true" : "false")});
    return testing::gitvault(args, env);
  }
  void work(const std::string& commands) { sh("cd " + (dir_ / "wc") + " && " + commands); }
  std::string storage_arg() const { return "default=" + (dir_ / "storage"); }
  // A night: an incremental backup, and the state it should restore to.
  void night(const std::string& id, bool flag_on, std::vector<std::pair<std::string, std::string>> env = {}) {
    auto b = gv({"backup", "--incremental", "--storage", storage_arg(), "--path", dir_ / "backups", "--id", id}, flag_on,
                env);
    ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
    state_[id] = refs_of_all(dir_ / "storage");
  }
  std::string refs_of_all(const std::string& storage_dir) {
    return sh("cd " + storage_dir + " && for r in $(find . -path ./+gitvault -prune -o -name '*.git' -type d -prune -print | sort); do "
              "echo $r; git --git-dir=$r show-ref --head; git --git-dir=$r symbolic-ref -q HEAD; "
              "git --git-dir=$r cat-file -p HEAD >/dev/null 2>&1 && git --git-dir=$r rev-list --objects --all | wc -l; done; true");
  }
  json repo_record(const std::string& id, const std::string& rel) {
    json rec = json::parse(read_file(dir_ / ("backups/+gitvault/backups/" + id + ".json")));
    for (const auto& r : rec["repositories"])
      if (r["relative_path"] == rel) return r;
    ADD_FAILURE() << rel << " not in " << id;
    return {};
  }
  void expect_restores(const std::string& id, bool flag_on) {
    std::string target = dir_ / ("restored-" + id + (flag_on ? "-on" : "-off"));
    auto r = gv({"restore", "--storage", "default=" + target, "--path", dir_ / "backups", "--id", id}, flag_on);
    ASSERT_EQ(r.exit_code, 0) << id << "\n" << r.out << r.err;
    EXPECT_EQ(refs_of_all(target), state_[id]) << "night " << id << " flag " << flag_on;
    EXPECT_EQ(testing::sh_status("git --git-dir=" + target + "/work/app.git fsck --no-progress --no-dangling"), 0) << id;
  }
  ScratchDir dir_;
  std::map<std::string, std::string> state_;
};

TEST_F(Incremental, WeekOfNightsEveryNightRestoresWhicheverPathWroteIt) {
  night("n1", true);  // no previous backup: every repository gets a full step
  EXPECT_EQ(repo_record("n1", "work/app.git")["kind"], "full");

  work("echo 2 >> a && git commit -qam two && git checkout -qb feature && echo f > f && git add f && "
       "git commit -qm feat && git push -q origin feature main && git tag light && git push -q origin light");
  night("n2", true);
  json app = repo_record("n2", "work/app.git");
  EXPECT_EQ(app["kind"], "incremental");
  EXPECT_EQ(app["step"], 2);
  // The record names the chain file instead of repeating the chain (docs/backup-format.md).
  EXPECT_EQ(app["chain"], "n2");
  EXPECT_FALSE(app.contains("previous_steps"));
  EXPECT_EQ(testing::chain_steps_of(dir_ / "backups", app)[0]["bundle"]["name"], "default/work/app.git/n1/001.bundle");
  // Format 2 (an older gitvault refuses it rather than restore a chain of one step), needs
  // as one string; the full backup before it names no chain file and stays format 1.
  json n2 = json::parse(read_file(dir_ / "backups/+gitvault/backups/n2.json"));
  EXPECT_EQ(n2["format"], 2);
  EXPECT_EQ(n2["summary"]["needs"], "n1");
  EXPECT_EQ(json::parse(read_file(dir_ / "backups/+gitvault/backups/n1.json"))["format"], 1);
  EXPECT_TRUE(path_exists(dir_ / "backups/default/work/app.git/n2/002.bundle"));
  // An unchanged repository: a recorded step, nothing written, no git run.
  json project = repo_record("n2", "group/project.git");
  EXPECT_EQ(project["kind"], "unchanged");
  EXPECT_EQ(project["bytes"], 0);
  EXPECT_FALSE(path_exists(dir_ / "backups/default/group/project.git/n2"));
  EXPECT_EQ(project["refs"]["name"], "default/group/project.git/n1/001.refs");
  EXPECT_FALSE(path_exists(dir_ / "backups/manifests/default/group/project.git/n2.toml"));
  // The step is n1's own, recorded again: the chain does not grow on a quiet night.
  EXPECT_EQ(project["step"], 1);
  EXPECT_TRUE(testing::chain_steps_of(dir_ / "backups", project).empty()) << project.dump();
  EXPECT_EQ(project["bundle"]["name"], "default/group/project.git/n1/001.bundle");
  EXPECT_EQ(project["step_backup_id"], "n1");

  work("git checkout -q main && echo 3 >> a && git commit -qam three && git push -q origin main");
  night("n3", false);  // the flag off: the legacy path writes full backups
  EXPECT_EQ(repo_record("n3", "work/app.git")["kind"], "full");
  EXPECT_EQ(repo_record("n3", "work/app.git")["layout"], "legacy");

  // Back on: the increment builds on the legacy night. A deleted branch and tag, a new commit.
  work("git push -q origin :feature :refs/tags/light && echo 4 >> a && git commit -qam four && git push -q origin main");
  night("n4", true);
  app = repo_record("n4", "work/app.git");
  EXPECT_EQ(app["kind"], "incremental");
  EXPECT_EQ(testing::chain_steps_of(dir_ / "backups", app)[0]["bundle"]["name"], "n3/default/work/app.bundle");

  // Only a deletion: a step with refs and no bundle.
  work("git push -q origin :refs/tags/v1");
  night("n5", true);
  app = repo_record("n5", "work/app.git");
  EXPECT_EQ(app["kind"], "incremental");
  EXPECT_TRUE(app["bundle"].is_null());

  // History rewritten and the old commits garbage-collected: the increment's prerequisites
  // are gone, so this repository falls back to a full step, with a warning.
  work("git reset -q --hard HEAD~2 && echo rewritten > a && git commit -qam rewritten && git push -q -f origin main");
  sh("git --git-dir=" + (dir_ / "storage/work/app.git") + " reflog expire --expire=now --all && git --git-dir=" +
     (dir_ / "storage/work/app.git") + " gc -q --prune=now");
  night("n6", true);
  app = repo_record("n6", "work/app.git");
  EXPECT_EQ(app["kind"], "full");
  EXPECT_NE(app["warnings"].dump().find("history rewritten"), std::string::npos) << app.dump();

  // Nothing changed anywhere: not one git process runs (a git that logs every call).
  testing::write_text(dir_ / "logging-git", "#!/bin/sh\necho \"$@\" >> " + (dir_ / "git-calls") + "\nexec git \"$@\"\n");
  sh("chmod +x " + (dir_ / "logging-git"));
  night("n7", true, {{"GITVAULT_GIT", dir_ / "logging-git"}});
  EXPECT_FALSE(path_exists(dir_ / "git-calls")) << read_file(dir_ / "git-calls");
  json rec = json::parse(read_file(dir_ / "backups/+gitvault/backups/n7.json"));
  for (const auto& r : rec["repositories"])
    if (r["status"] == "ok") {
      EXPECT_EQ(r["kind"], "unchanged") << r["relative_path"];
    }
  // Quiet nights do not lengthen chains: untouched since the full legacy night n3, the
  // repository is still n3's one step four nights later.
  EXPECT_EQ(repo_record("n7", "group/project.git")["step"], 1);
  EXPECT_EQ(repo_record("n7", "group/project.git")["step_backup_id"], "n3");
  EXPECT_EQ(repo_record("n7", "work/app.git")["step"], 1);  // n6's full step, unchanged since
  EXPECT_EQ(repo_record("n7", "work/app.git")["step_backup_id"], "n6");
  auto listed = gv({"backups", "--path", dir_ / "backups", "--json"});
  std::string n7 = listed.out.substr(listed.out.find("\"id\":\"n7\""));
  n7 = n7.substr(0, n7.find('\n'));
  EXPECT_NE(n7.find("\"n6\""), std::string::npos) << n7;  // needs n6's files

  for (const std::string id : {"n1", "n2", "n3", "n4", "n5", "n6", "n7"}) {
    expect_restores(id, true);
    expect_restores(id, false);
  }
  auto v = gv({"verify", "--path", dir_ / "backups", "--all", "--deep"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("no problem"), std::string::npos) << v.out;
}

class Verify : public Incremental {
 protected:
  void SetUp() override {
    Incremental::SetUp();
    night("n1", true);
    work("echo 2 >> a && git commit -qam two && git push -q origin main");
    night("n2", true);
  }
  testing::CommandResult verify(const std::string& id) { return gv({"verify", "--path", dir_ / "backups", "--id", id}); }
};

TEST_F(Verify, IntactChainHasNoProblemQuickOrDeep) {
  auto q = verify("n2");
  EXPECT_EQ(q.exit_code, 0) << q.out << q.err;
  auto d = gv({"verify", "--path", dir_ / "backups", "--id", "n2", "--deep"});
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
}

// Every night of a chain holds the same relative paths: deep checks run in parallel and
// must not share a scratch repository (they did, and collided now and then).
TEST_F(Verify, DeepOfEveryNightInParallelHasNoProblem) {
  for (int round = 0; round < 3; ++round) {
    auto d = gv({"verify", "--path", dir_ / "backups", "--all", "--deep", "--parallel", "2"});
    EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  }
}

TEST_F(Verify, FlippedByteIsNamed) {
  std::string bundle = dir_ / "backups/default/work/app.git/n2/002.bundle";
  sh("printf 'X' | dd of=" + bundle + " bs=1 seek=200 conv=notrunc status=none");
  auto v = verify("n2");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.out.find(bundle + ": SHA-256 mismatch"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("work/app.git"), std::string::npos) << v.out;
}

TEST_F(Verify, MissingIncrementIsNamed) {
  std::string bundle = dir_ / "backups/default/work/app.git/n2/002.bundle";
  sh("rm " + bundle);
  auto v = verify("n2");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.out.find(bundle + ": missing"), std::string::npos) << v.out;
  // The night before does not depend on it.
  EXPECT_EQ(verify("n1").exit_code, 0);
}

TEST_F(Verify, MissingBaseBreaksEveryLaterNight) {
  std::string base = dir_ / "backups/default/work/app.git/n1/001.bundle";
  sh("rm " + base);
  auto v = verify("n2");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.out.find(base + ": missing"), std::string::npos) << v.out;
}

TEST_F(Verify, TruncatedManifestIsNamed) {
  std::string manifest = dir_ / "backups/manifests/default/work/app.git/n2.toml";
  sh("truncate -s 150 " + manifest);
  auto v = verify("n2");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.out.find(manifest), std::string::npos) << v.out;
}

TEST_F(Verify, DamageBehindAMatchingChecksumIsCaughtByDeep) {
  // Rewrite the increment with a bundle that lacks its objects, and fix up the record's
  // checksum as an attacker or a buggy tool would: quick verify cannot tell, deep can.
  std::string rel = "default/work/app.git/n2/002.bundle";
  std::string bundle = dir_ / ("backups/" + rel);
  sh("sed -n '1,/^$/p' " + bundle + " > " + bundle + ".new && printf 'PACK\\0\\0\\0\\2\\0\\0\\0\\0' >> " + bundle +
     ".new && mv " + bundle + ".new " + bundle);
  std::string rec_path = dir_ / "backups/+gitvault/backups/n2.json";
  json rec = json::parse(read_file(rec_path));
  std::string sha = sh("sha256sum " + bundle + " | cut -d' ' -f1");
  sha.erase(sha.find_last_not_of(" \n") + 1);
  std::uint64_t size = std::stoull(sh("stat -c %s " + bundle));
  for (auto& r : rec["repositories"])
    if (r["relative_path"] == "work/app.git") {
      r["bundle"]["sha256"] = sha;
      r["bundle"]["size"] = size;
    }
  testing::write_text(rec_path, rec.dump(1));
  EXPECT_EQ(verify("n2").exit_code, 1);  // the manifest still has the old checksum
  auto d = gv({"verify", "--path", dir_ / "backups", "--id", "n2", "--deep"});
  EXPECT_EQ(d.exit_code, 1) << d.out;
  EXPECT_NE(d.out.find("restore into a scratch repository failed"), std::string::npos) << d.out;
}

TEST_F(Verify, BrokenChainIsRefusedByRestoreAndNamedByVerify) {
  std::string target = dir_ / "target";
  ASSERT_EQ(gv({"restore", "--storage", "default=" + target, "--path", dir_ / "backups", "--id", "n1"}).exit_code, 0);
  std::string before = refs_of_all(target);
  // Drop the full step from n2's chain: its increment's prerequisites come from nowhere.
  std::string rec_path = dir_ / "backups/+gitvault/backups/n2.json";
  const std::string intact = read_file(rec_path);
  json rec = json::parse(intact);
  for (auto& r : rec["repositories"])
    if (r["relative_path"] == "work/app.git") {
      r.erase("chain");
      r["previous_steps"] = json::array();
    }
  testing::write_text(rec_path, rec.dump(1));
  auto r = gv({"restore", "--storage", "default=" + target, "--path", dir_ / "backups", "--id", "n2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("chain broken"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(refs_of_all(target), before);  // the good repository was not touched
  auto v = verify("n2");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.out.find("chain incomplete"), std::string::npos) << v.out;

  // The same chain cut short in the chain file the record names: refused, the file named.
  testing::write_text(rec_path, intact);
  const std::string chain_path = dir_ / "backups/+gitvault/chains/n2.json";
  json chains = json::parse(read_file(chain_path));
  for (auto& c : chains["repositories"])
    if (c["relative_path"] == "work/app.git") c["previous_steps"] = json::array();
  testing::write_text(chain_path, chains.dump());
  r = gv({"restore", "--storage", "default=" + target, "--path", dir_ / "backups", "--id", "n2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("+gitvault/chains/n2.json"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(refs_of_all(target), before);
  v = verify("n2");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.out.find("+gitvault/chains/n2.json"), std::string::npos) << v.out;
  // And gone altogether.
  std::remove(chain_path.c_str());
  v = verify("n2");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.out.find("chain file"), std::string::npos) << v.out;
}

class Prune : public Incremental {
 protected:
  void SetUp() override {
    Incremental::SetUp();
    for (const std::string id : {"n1", "n2", "n3"}) {
      night(id, true);
      work("echo " + id + " >> a && git commit -qam " + id + " && git push -q origin main");
    }
  }
  testing::CommandResult prune(std::vector<std::string> extra, std::vector<std::pair<std::string, std::string>> env = {}) {
    std::vector<std::string> args = {"prune", "--path", dir_ / "backups"};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::gitvault(args, env);
  }
};

TEST_F(Prune, DryRunRemovesNothing) {
  auto p = prune({"--keep-last", "1", "--dry-run"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("would remove backup n1"), std::string::npos) << p.out;
  EXPECT_TRUE(path_exists(dir_ / "backups/+gitvault/backups/n1.json"));
}

TEST_F(Prune, KeepsTheChainBaseOfAKeptIncrement) {
  auto p = prune({"--keep-last", "1"});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_FALSE(path_exists(dir_ / "backups/+gitvault/backups/n1.json"));
  EXPECT_FALSE(path_exists(dir_ / "backups/+gitvault/backups/n2.json"));
  // n3's chain still needs n1's and n2's bundles, so they stay; their manifests go.
  EXPECT_TRUE(path_exists(dir_ / "backups/default/work/app.git/n1/001.bundle"));
  EXPECT_TRUE(path_exists(dir_ / "backups/default/work/app.git/n2/002.bundle"));
  EXPECT_FALSE(path_exists(dir_ / "backups/manifests/default/work/app.git/n1.toml"));
  expect_restores("n3", true);
  EXPECT_EQ(gv({"verify", "--path", dir_ / "backups", "--id", "n3"}).exit_code, 0);
  auto list = gv({"backups", "--path", dir_ / "backups"});
  EXPECT_NE(list.out.find("pruned backups' files kept"), std::string::npos) << list.out;

  // A full night on the legacy path; pruning again frees the whole old chain.
  night("n4", false);
  ASSERT_EQ(prune({"--keep-last", "1"}).exit_code, 0);
  EXPECT_FALSE(path_exists(dir_ / "backups/default/work/app.git"));
  EXPECT_FALSE(path_exists(dir_ / "backups/+gitvault/backups/n3.json"));
  expect_restores("n4", true);
}

// A prune killed part way (a child process that dies as kill -9 would, at the third file):
// the kept backups still restore, and the next prune finishes the plan.
TEST_F(Prune, KilledHalfWayLeavesKeptBackupsRestorableAndIsFinishedByTheNextRun) {
  night("n4", false);  // full: n1..n3 and their files can all go
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    LocalSink sink(dir_ / "backups");
    PruneOptions o;
    o.policy.last = 1;
    o.before_file_removal = [](std::size_t removed) {
      if (removed == 2) ::_exit(137);
    };
    try {
      prune_backups(sink, o);
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 137);
  EXPECT_TRUE(path_exists(dir_ / "backups/+gitvault/prune.json"));
  expect_restores("n4", true);
  auto again = prune({"--keep-last", "1"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("finished an interrupted prune"), std::string::npos) << again.out;
  EXPECT_NE(again.err.find("took over the lock of"), std::string::npos) << again.err;
  EXPECT_FALSE(path_exists(dir_ / "backups/+gitvault/prune.json"));
  EXPECT_FALSE(path_exists(dir_ / "backups/default/work/app.git"));
  EXPECT_EQ(gv({"verify", "--path", dir_ / "backups", "--all"}).exit_code, 0);
}

TEST_F(Prune, RefusesWithoutAKeepRule) {
  auto p = prune({});
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_NE(p.err.find("--keep-last"), std::string::npos) << p.err;
}

// A full backup of a quiet installation costs what a night does: a repository whose newest
// step is a full bundle of the same refs is recorded unchanged on it (its files where they
// are) — one that changed, or whose step is an increment, gets a new full bundle, so chains
// never grow across a full backup. Prune keeps the taken bundle while a backup names it;
// `--independent` writes everything again.
TEST_F(Incremental, AFullBackupTakesAgainTheFullBundlesOfUnchangedRepositories) {
  auto full = [&](const std::string& id, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"backup", "--storage", storage_arg(), "--path", dir_ / "backups", "--id", id};
    args.insert(args.end(), extra.begin(), extra.end());
    auto b = gv(args);
    EXPECT_EQ(b.exit_code, 0) << b.out << b.err;
    state_[id] = refs_of_all(dir_ / "storage");
    return b;
  };
  full("f1");
  auto f2 = full("f2");
  EXPECT_NE(f2.out.find("written: 0 B"), std::string::npos) << f2.out;
  json project = repo_record("f2", "group/project.git");
  EXPECT_EQ(project["kind"], "unchanged");
  EXPECT_EQ(project["step_backup_id"], "f1");
  EXPECT_EQ(project["step"], 1);
  // app.git changes, then a night (an increment), then a full: app gets a new full bundle
  // (its chain was two steps), the others stay on f1's bundles.
  work("echo 2 > a && git commit -qam two && git push -q origin main");
  night("n1", true);
  EXPECT_EQ(repo_record("n1", "work/app.git")["kind"], "incremental");
  full("f3");
  EXPECT_EQ(repo_record("f3", "work/app.git")["kind"], "full");
  EXPECT_EQ(repo_record("f3", "work/app.git")["step"], 1);
  EXPECT_EQ(repo_record("f3", "group/project.git")["step_backup_id"], "f1");
  // Only f3 kept: f1's bundles stay (f3 names them), the rest of f1, f2 and n1 goes.
  auto p = gv({"prune", "--path", dir_ / "backups", "--keep-last", "1"});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "backups/+gitvault/backups/f1.json"));
  expect_restores("f3", true);
  expect_restores("f3", false);
  auto v = gv({"verify", "--deep", "--path", dir_ / "backups"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  auto f4 = full("f4", {"--independent"});
  EXPECT_EQ(f4.out.find("written: 0 B"), std::string::npos) << f4.out;
  EXPECT_EQ(repo_record("f4", "group/project.git")["kind"], "full");
  EXPECT_TRUE(repo_record("f4", "group/project.git")["step_backup_id"].is_null());
  // The same from the config, for the timer's full backups.
  testing::write_text(dir_ / "independent.toml", "[backup]\nindependent = true\n");
  auto f5 = full("f5", {"--config", dir_ / "independent.toml"});
  EXPECT_EQ(f5.out.find("written: 0 B"), std::string::npos) << f5.out;
  EXPECT_EQ(repo_record("f5", "group/project.git")["kind"], "full");
}

}  // namespace
}  // namespace gitvault
