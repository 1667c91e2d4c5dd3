// Backups written by GitLab's gitaly-backup (manifest layout), laid out by
// tests/fixtures/make-gitaly-backup.sh with plain git from gitaly's published format:
// restored ref for ref, verified, listed, kept by prune, beside gitvault's own backups, and
// refused when a manifest is hostile.
#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>

#include "destination/s3_sink.h"
#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

class GitalyBackups : public ::testing::Test {
 protected:
  void SetUp() override { testing::make_fixture_storage(dir_ / "storage", 50); }
  testing::CommandResult gv(std::vector<std::string> args) {
    return testing::gitvault(args, {{"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"}});
  }
  // gitaly-backup's backup of the storage as it is now.
  void gitaly_backup(const std::string& id, const std::string& extra = "") {
    sh(std::string(GITVAULT_SOURCE_DIR) + "/tests/fixtures/make-gitaly-backup.sh default " + (dir_ / "storage") + " " +
       (dir_ / "backups") + " " + id + " " + extra);
  }
  // Every repository's refs, HEAD's target and hooks, as a text to compare.
  std::string state_of(const std::string& storage_dir) {
    return sh("cd " + storage_dir +
              " && for r in $(find . -path ./+gitvault -prune -o -name '*.git' -type d -prune -print | sort); do "
              "echo \"== $r\"; git -c safe.directory='*' --git-dir=$r show-ref --head; "
              "git -c safe.directory='*' --git-dir=$r symbolic-ref -q HEAD; "
              "if [ -d $r/custom_hooks ]; then (cd $r && find custom_hooks -type f | sort | xargs sha256sum); fi; done");
  }
  testing::CommandResult restore(const std::string& into, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"restore", "--storage", "default=" + into, "--path", dir_ / "backups"};
    args.insert(args.end(), extra.begin(), extra.end());
    return gv(args);
  }
  void commit_in_project(const std::string& message) {
    std::string repo = dir_ / "storage/group/project.git";
    sh("cd " + (dir_ / "") + " && rm -rf wt && git -c safe.directory='*' clone -q " + repo + " wt && cd wt && " +
       "git checkout -q develop && echo '" + message + "' >> dev.txt && git add dev.txt && " +
       "git -c user.name=T -c user.email=t@example.com commit -q -m '" + message + "' && git push -q origin develop " +
       "&& cd .. && rm -rf wt");
  }
  ScratchDir dir_;
};

// gitaly versions that record a step for every repository write, for an empty one, an empty
// .refs file and a bundle_path with no bundle at every step. verify (quick and --deep) took
// those bundles for missing; restore was right.
TEST_F(GitalyBackups, AnEmptyRepositorysChainOfTwoStepsVerifiesAndRestores) {
  gitaly_backup("20240101000000", "--marker --empty-steps");
  commit_in_project("second night");
  gitaly_backup("20240102000000", "--marker --empty-steps --incremental 20240101000000");
  const std::string manifest =
      testing::read_text(dir_ / "backups/manifests/default/group/sub/empty.git/20240102000000.toml");
  ASSERT_NE(manifest.find("empty = true"), std::string::npos) << manifest;
  ASSERT_EQ(std::count(manifest.begin(), manifest.end(), '['), 4) << manifest;  // two [[steps]]
  for (const char* deep : {"", "--deep"}) {
    std::vector<std::string> args = {"verify", "--path", dir_ / "backups", "--id", "20240102000000"};
    if (*deep) args.push_back(deep);
    auto v = gv(args);
    EXPECT_EQ(v.exit_code, 0) << deep << v.out << v.err;
    EXPECT_EQ(v.out.find("missing"), std::string::npos) << deep << v.out;
  }
  auto r = restore(dir_ / "restored", {"--id", "20240102000000"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(state_of(dir_ / "restored"), state_of(dir_ / "storage"));
}

TEST_F(GitalyBackups, AFullBackupIsRestoredRefForRefAndSaysItIsVerifiedByGitAlone) {
  gitaly_backup("20240101000000", "--marker");
  const std::string before = state_of(dir_ / "storage");
  for (const std::string flag : {"true", "false"}) {  // either path restores it
    ASSERT_EQ(gv({"feature", "set", "gitaly_backup", flag}).exit_code, 0);
    std::string into = dir_ / ("restored-" + flag);
    auto r = restore(into);  // no --id: the newest, as gitaly finds it
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("restore of backup 20240101000000: 6 restored and verified, 0 failed"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("written by gitaly-backup"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("verified by git alone"), std::string::npos) << r.out;
    EXPECT_EQ(state_of(into), before) << "flag " << flag;
    EXPECT_EQ(sh("git -c safe.directory='*' --git-dir=" + into + "/group/project.git fsck --no-dangling 2>&1; echo $?"),
              "0\n");
  }
  auto quick = gv({"verify", "--path", dir_ / "backups"});
  EXPECT_EQ(quick.exit_code, 0) << quick.out << quick.err;
  EXPECT_NE(quick.out.find("recorded no checksums, so only their files' presence"), std::string::npos) << quick.out;
  auto deep = gv({"verify", "--path", dir_ / "backups", "--deep"});
  EXPECT_EQ(deep.exit_code, 0) << deep.out << deep.err;
  EXPECT_NE(deep.out.find("verified by git alone"), std::string::npos) << deep.out;
  auto list = gv({"backups", "--path", dir_ / "backups", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("\"id\":\"20240101000000\""), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("\"written_by\":\"gitaly-backup\""), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("\"status\":\"complete\""), std::string::npos) << list.out;
}

TEST_F(GitalyBackups, AnIncrementalChainRestoresEachNightAndDeletedRefsStayDeleted) {
  gitaly_backup("20240101000000");
  const std::string night1 = state_of(dir_ / "storage");
  commit_in_project("night two");
  sh("git --git-dir=" + (dir_ / "storage/group/project.git") + " update-ref -d refs/heads/feature/x");
  gitaly_backup("20240102000000", "--incremental 20240101000000");
  const std::string night2 = state_of(dir_ / "storage");
  ASSERT_NE(night1, night2);
  // gitaly's step 2 of the changed repository is an increment with prerequisites.
  std::string bundle = dir_ / "backups/default/group/project.git/20240102000000/002.bundle";
  ASSERT_TRUE(path_exists(bundle));
  EXPECT_NE(sh("head -c 400 " + bundle + " | grep -a -c '^-' || true"), "0\n");

  auto r2 = restore(dir_ / "r2");  // the newest by id
  ASSERT_EQ(r2.exit_code, 0) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("restore of backup 20240102000000"), std::string::npos) << r2.out;
  EXPECT_EQ(state_of(dir_ / "r2"), night2);
  auto r1 = restore(dir_ / "r1", {"--id", "20240101000000"});
  ASSERT_EQ(r1.exit_code, 0) << r1.out << r1.err;
  EXPECT_EQ(state_of(dir_ / "r1"), night1);
  auto deep = gv({"verify", "--path", dir_ / "backups", "--all", "--deep"});
  EXPECT_EQ(deep.exit_code, 0) << deep.out << deep.err;
}

TEST_F(GitalyBackups, EmptyAndNonExistentRepositories) {
  gitaly_backup("20240101000000");
  // gitaly's word for a repository that was gone when it ran: nothing to restore.
  sh("mkdir -p " + (dir_ / "backups/manifests/default/gone.git") + " && printf \"object_format = 'sha1'\\n"
     "head_reference = ''\\nempty = false\\nnon_existent = true\\n\" > " +
     (dir_ / "backups/manifests/default/gone.git/20240101000000.toml"));
  auto r = restore(dir_ / "r");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("6 restored"), std::string::npos) << r.out;
  EXPECT_FALSE(path_exists(dir_ / "r/gone.git"));
  EXPECT_EQ(testing::show_ref(dir_ / "r/group/sub/empty.git"), "");
  EXPECT_EQ(testing::symbolic_head(dir_ / "r/group/sub/empty.git"), "refs/heads/trunk");
}

TEST_F(GitalyBackups, MixedDirectoriesListBothKindsRestoreByIdAndPruneLeavesGitalysFilesAlone) {
  gitaly_backup("20240101000000", "--marker");
  const std::string gitaly_state = state_of(dir_ / "storage");
  const std::string storage = "default=" + (dir_ / "storage");
  commit_in_project("after the switch");
  auto b1 = gv({"backup", "--storage", storage, "--path", dir_ / "backups", "--id", "g1"});
  ASSERT_EQ(b1.exit_code, 0) << b1.out << b1.err;
  // Tonight's incremental backup starts from gitvault's own backup, never silently from gitaly's.
  auto n1 = gv({"backup", "--storage", storage, "--path", dir_ / "backups", "--id", "g2", "--incremental"});
  ASSERT_EQ(n1.exit_code, 0) << n1.out << n1.err;
  auto list = gv({"backups", "--path", dir_ / "backups"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("20240101000000"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("gitaly-backup"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("g1"), std::string::npos) << list.out;
  // gitvault refuses to reuse an id gitaly-backup marked.
  auto same = gv({"backup", "--storage", storage, "--path", dir_ / "backups", "--id", "20240101000000"});
  EXPECT_EQ(same.exit_code, 2) << same.out << same.err;
  EXPECT_NE(same.err.find("written by gitaly-backup"), std::string::npos) << same.err;

  auto old = restore(dir_ / "old", {"--id", "20240101000000"});
  ASSERT_EQ(old.exit_code, 0) << old.out << old.err;
  EXPECT_EQ(state_of(dir_ / "old"), gitaly_state);

  // Prune keeps the newest gitvault backup and never touches what gitaly-backup wrote.
  const std::string gitaly_files = sh("cd " + (dir_ / "backups") +
                                      " && find . -type f \\( -path '*20240101000000*' -o -path './backup_ids/*' \\) | sort");
  auto p = gv({"prune", "--path", dir_ / "backups", "--keep-last", "1"});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_NE(p.err.find("written by gitaly-backup are left alone"), std::string::npos) << p.err;
  EXPECT_EQ(sh("cd " + (dir_ / "backups") +
               " && find . -type f \\( -path '*20240101000000*' -o -path './backup_ids/*' \\) | sort"),
            gitaly_files);
  auto still = restore(dir_ / "still", {"--id", "20240101000000"});
  EXPECT_EQ(still.exit_code, 0) << still.out << still.err;
  EXPECT_EQ(gv({"verify", "--path", dir_ / "backups", "--all"}).exit_code, 0);
}

TEST_F(GitalyBackups, AGitvaultChainMayStartFromGitalysFullBackupWhenNamed) {
  gitaly_backup("20240101000000");
  commit_in_project("first gitvault night");
  const std::string now = state_of(dir_ / "storage");
  auto n = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "n1",
               "--incremental", "--previous-id", "20240101000000"});
  ASSERT_EQ(n.exit_code, 0) << n.out << n.err;
  auto list = gv({"backups", "--path", dir_ / "backups", "--json"});
  std::string n1 = list.out.substr(list.out.find("\"id\":\"n1\""));
  n1 = n1.substr(0, n1.find('\n'));
  EXPECT_NE(n1.find("\"needs\":[\"20240101000000\"]"), std::string::npos) << n1;
  auto r = restore(dir_ / "r", {"--id", "n1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(state_of(dir_ / "r"), now);
  EXPECT_EQ(gv({"verify", "--path", dir_ / "backups", "--id", "n1", "--deep"}).exit_code, 0);
}

// Hostile manifests: each is refused naming its file; the other repositories are restored and
// nothing outside the backup directory is read.
TEST_F(GitalyBackups, HostileManifestsAreRefusedNamingTheFileAndTheRestIsRestored) {
  gitaly_backup("20240101000000");
  gitaly_backup("20240102000000", "--incremental 20240101000000");
  const std::string m = dir_ / "backups/manifests/default/group/";
  // A path escaping the backup directory.
  sh("sed -i \"s|^bundle_path = .*|bundle_path = '../../../../etc/passwd'|\" " + m + "project.wiki.git/20240102000000.toml");
  // No steps at all.
  sh("sed -i '/^\\[\\[steps\\]\\]/,$d' " + m + "detached.git/20240102000000.toml");
  // The chain's first step gone: step 2 alone, whose prerequisites nothing provides.
  commit_in_project("third");
  gitaly_backup("20240103000000", "--incremental 20240101000000");
  {
    std::string name = m + "project.git/20240103000000.toml";
    std::string text = testing::read_text(name);
    std::size_t first = text.find("[[steps]]"), second = text.find("[[steps]]", first + 1);
    ASSERT_NE(second, std::string::npos) << text;
    text.erase(first, second - first);  // step 1 gone
    std::size_t prev = text.find("previous_ref_path = '");
    text.replace(prev, 21, "previous_ref_path = '' # was '");
    testing::write_text(name, text);
  }
  auto r2 = restore(dir_ / "r2", {"--id", "20240102000000"});
  EXPECT_EQ(r2.exit_code, 1) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("project.wiki.git/20240102000000.toml: step 1: bundle_path escapes the backup directory"),
            std::string::npos)
      << r2.out;
  EXPECT_NE(r2.out.find("detached.git/20240102000000.toml: manifest has no steps"), std::string::npos) << r2.out;
  EXPECT_TRUE(path_exists(dir_ / "r2/group/project.git"));  // the rest restored
  EXPECT_FALSE(path_exists(dir_ / "r2/group/project.wiki.git"));

  auto r3 = restore(dir_ / "r3", {"--id", "20240103000000", "--repositories-paths", "group/project.git"});
  EXPECT_EQ(r3.exit_code, 1) << r3.out << r3.err;
  EXPECT_NE(r3.out.find("chain broken"), std::string::npos) << r3.out;
  EXPECT_FALSE(path_exists(dir_ / "r3/group/project.git"));
  auto v = gv({"verify", "--path", dir_ / "backups", "--id", "20240103000000"});
  EXPECT_EQ(v.exit_code, 1) << v.out;
  EXPECT_NE(v.out.find("first bundle has prerequisites"), std::string::npos) << v.out;
}

TEST_F(GitalyBackups, AnUnsupportedObjectFormatFailsThatRepositoryOnly) {
  gitaly_backup("20240101000000");
  sh("sed -i \"s/^object_format = 'sha1'/object_format = 'sha256'/\" " +
     (dir_ / "backups/manifests/default/group/detached.git/20240101000000.toml"));
  auto r = restore(dir_ / "r", {"--id", "20240101000000"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("object format 'sha256' is not supported"), std::string::npos) << r.out;
  EXPECT_TRUE(path_exists(dir_ / "r/group/project.git"));
}

// The same backup in a bucket of the real Ceph gateway: read, restored, verified.
TEST_F(GitalyBackups, ABackupInObjectStorageIsRestoredAndVerified) {
  GITVAULT_REQUIRE_S3(url);
  gitaly_backup("20240101000000", "--marker");
  {
    auto sink = open_sink(url);
    std::string root = dir_ / "backups";
    for (const auto& e : std::filesystem::recursive_directory_iterator(root))
      if (e.is_regular_file())
        write_whole(*sink, std::filesystem::relative(e.path(), root).string(), testing::read_text(e.path().string()));
  }
  auto r = gv({"restore", "--storage", "default=" + (dir_ / "r"), "--path", url});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("written by gitaly-backup"), std::string::npos) << r.out;
  EXPECT_EQ(state_of(dir_ / "r"), state_of(dir_ / "storage"));
  EXPECT_EQ(gv({"verify", "--path", url, "--deep"}).exit_code, 0);
}

}  // namespace
}  // namespace gitvault
