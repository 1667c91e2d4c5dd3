// The restore that installs a pack as it is (docs/restore.md): the backup keeps the pack's
// index, reverse index and bitmap beside a single-pack bundle; the restore installs them
// instead of re-indexing, and any damaged byte of the bundle, the index or the bitmap fails
// that repository and leaves the repository already there untouched.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

class FastRestore : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::make_fixture_storage(dir_ / "storage", 50);
    // As gitaly's housekeeping leaves a repository: one pack, a bitmap, a reverse index.
    sh("git -c safe.directory='*' --git-dir=" + project() +
       " -c pack.writeReverseIndex=true repack -adq --write-bitmap-index");
    auto b = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", "b1"});
    ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  }
  std::string project() { return dir_ / "storage/group/project.git"; }
  std::string kept(const std::string& ext) { return dir_ / ("backups/default/group/project.git/b1/001." + ext); }
  testing::CommandResult gv(std::vector<std::string> args) {
    return testing::gitvault(args, {{"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"}});
  }
  // A target storage holding the repository as it is now, plus a ref the backup lacks: a
  // restore that replaced it would remove that ref.
  std::string existing_target() {
    std::string target = dir_ / "target";
    sh("rm -rf " + target + " && mkdir -p " + target + "/group && cp -a " + project() + " " + target + "/group/");
    sh("git --git-dir=" + target + "/group/project.git update-ref refs/heads/only-here HEAD");
    return target;
  }
  testing::CommandResult restore_into(const std::string& target, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"restore", "--storage", "default=" + target, "--path", dir_ / "backups",
                                     "--repositories-paths", "group/project.git"};
    args.insert(args.end(), extra.begin(), extra.end());
    return gv(args);
  }
  // Inverts the byte `from_end` bytes before the end of the file.
  void flip(const std::string& path, int from_end) {
    sh("python3 -c \"import sys; p=sys.argv[1]; n=int(sys.argv[2]); b=bytearray(open(p,'rb').read()); "
       "b[len(b)-n]^=0xff; open(p,'wb').write(b)\" " + path + " " + std::to_string(from_end));
  }
  ScratchDir dir_;
};

TEST_F(FastRestore, TheBackupKeepsThePacksCompanionsAndTheRestoreInstallsThem) {
  for (const std::string ext : {"idx", "rev", "bitmap"}) EXPECT_TRUE(path_exists(kept(ext))) << ext;
  std::string target = existing_target();
  auto r = restore_into(target);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string restored = target + "/group/project.git";
  EXPECT_EQ(testing::show_ref(restored), testing::show_ref(project()));
  // The very pack, index and bitmap: nothing re-indexed.
  auto names = [](const std::string& repo) { return sh("cd " + repo + "/objects/pack && ls | sort"); };
  EXPECT_EQ(names(restored), names(project()));
  EXPECT_EQ(sh("cd " + restored + "/objects/pack && sha256sum * | sort"),
            sh("cd " + project() + "/objects/pack && sha256sum * | sort"));
  EXPECT_EQ(sh("git -c safe.directory='*' --git-dir=" + restored + " fsck --no-dangling 2>&1; echo $?"), "0\n");
  // --verify-objects re-indexes instead: same refs, an index of git's making.
  auto v = restore_into(dir_ / "verified", {"--verify-objects"});
  ASSERT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(testing::show_ref(dir_ / "verified/group/project.git"), testing::show_ref(project()));
}

TEST_F(FastRestore, AFlippedByteInThePackTheIndexOrTheBitmapFailsTheRepositoryAndKeepsTheOldOne) {
  for (const auto& [ext, from_end] : std::vector<std::pair<std::string, int>>{
           {"bundle", 100}, {"bundle", 5}, {"idx", 30}, {"idx", 500}, {"bitmap", 10}, {"rev", 30}}) {
    SCOPED_TRACE(ext + " byte " + std::to_string(from_end) + " from the end");
    std::string backup_copy = dir_ / "pristine";
    sh("rm -rf " + backup_copy + " && cp -a " + (dir_ / "backups") + " " + backup_copy);
    flip(kept(ext), from_end);
    std::string target = existing_target();
    auto r = restore_into(target);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("001." + ext), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("SHA-256 mismatch"), std::string::npos) << r.out;
    EXPECT_NE(testing::show_ref(target + "/group/project.git").find("refs/heads/only-here"), std::string::npos)
        << "the repository already there was replaced";
    auto v = gv({"verify", "--path", dir_ / "backups", "--id", "b1"});
    EXPECT_EQ(v.exit_code, 1) << v.out;
    EXPECT_NE(v.out.find("001." + ext), std::string::npos) << v.out;
    sh("rm -rf " + (dir_ / "backups") + " && mv " + backup_copy + " " + (dir_ / "backups"));
  }
}

// Damage inside the source repository's pack, sealed by the backup's own checksums, is what
// installing cannot see (docs/restore.md); --verify-objects and verify --deep re-hash and do.
TEST_F(FastRestore, DamageBehindMatchingChecksumsIsFoundByVerifyObjects) {
  flip(kept("bundle"), 200);  // inside the last object's data, before the pack's trailer
  std::string record = dir_ / "backups/+gitvault/backups/b1.json";
  std::string bundle_sha = sh("sha256sum " + kept("bundle") + " | cut -d' ' -f1 | tr -d '\\n'");
  sh("python3 -c \"import json,sys; p=sys.argv[1]; lines=open(p).read().split('\\n'); "
     "out=[]\nfor l in lines:\n  if '001.bundle' in l and 'group/project.git' in l:\n"
     "    j=json.loads(l.rstrip(',')); j['bundle']['sha256']=sys.argv[2]; l=json.dumps(j,separators=(',',':'))+(',' if l.endswith(',') else '')\n"
     "  out.append(l)\nopen(p,'w').write('\\n'.join(out))\" " + record + " " + bundle_sha);
  ASSERT_NE(testing::read_text(record).find(bundle_sha), std::string::npos);
  // (Installed, it is found only if the damaged object is a commit, tree or tag, which the
  // connectivity walk reads; re-indexed, always.)
  auto checked = restore_into(dir_ / "checked", {"--verify-objects"});
  EXPECT_EQ(checked.exit_code, 1) << checked.out << checked.err;
  EXPECT_NE(checked.out.find("git index-pack rejected the pack"), std::string::npos) << checked.out;
  EXPECT_FALSE(path_exists(dir_ / "checked/group/project.git"));
  auto deep = gv({"verify", "--path", dir_ / "backups", "--id", "b1", "--deep"});
  EXPECT_EQ(deep.exit_code, 1) << deep.out;
  EXPECT_NE(deep.out.find("git index-pack rejected the pack"), std::string::npos) << deep.out;
}

}  // namespace
}  // namespace gitvault
