#include "git/hooks_tar.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

mode_t mode_of(const std::string& p) {
  struct stat st;
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

void make_hooks(const std::string& repo) {
  sh("mkdir -p " + repo + "/custom_hooks/pre-receive.d && printf '#!/bin/sh\\necho hi\\n' > " + repo +
     "/custom_hooks/pre-receive && chmod 755 " + repo + "/custom_hooks/pre-receive && echo data > " + repo +
     "/custom_hooks/pre-receive.d/plain && chmod 640 " + repo + "/custom_hooks/pre-receive.d/plain");
}

TEST(HooksTar, RoundTripKeepsContentAndModes) {
  ScratchDir dir;
  make_hooks(dir / "a");
  std::string tar = tar_hooks_directory(dir / "a/custom_hooks", nullptr);
  extract_hooks_tar(tar, dir / "b", "hooks.tar");
  EXPECT_EQ(testing::read_text(dir / "b/custom_hooks/pre-receive"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(mode_of(dir / "b/custom_hooks/pre-receive"), 0755u);
  EXPECT_EQ(mode_of(dir / "b/custom_hooks/pre-receive.d/plain"), 0640u);
}

TEST(HooksTar, ArchiveIsReadableByGnuTarAndGnuTarArchivesAreReadable) {
  ScratchDir dir;
  make_hooks(dir / "a");
  testing::write_text(dir / "ours.tar", tar_hooks_directory(dir / "a/custom_hooks", nullptr));
  EXPECT_NE(sh("tar -tf " + (dir / "ours.tar")).find("custom_hooks/pre-receive.d/plain"), std::string::npos);
  sh("cd " + (dir / "a") + " && tar -cf ../theirs.tar custom_hooks");
  extract_hooks_tar(read_file(dir / "theirs.tar"), dir / "c", "theirs.tar");
  EXPECT_EQ(testing::read_text(dir / "c/custom_hooks/pre-receive.d/plain"), "data\n");
}

TEST(HooksTar, SymlinksInHooksDirectoryAreReportedNotArchived) {
  ScratchDir dir;
  make_hooks(dir / "a");
  sh("ln -s /etc/passwd " + (dir / "a/custom_hooks/link"));
  std::vector<std::string> skipped;
  std::string tar = tar_hooks_directory(dir / "a/custom_hooks", &skipped);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("link"), std::string::npos);
  extract_hooks_tar(tar, dir / "b", "hooks.tar");
  EXPECT_FALSE(path_exists(dir / "b/custom_hooks/link"));
}

void expect_refused(const std::string& archive_path, const std::string& dest) {
  try {
    extract_hooks_tar(read_file(archive_path), dest, archive_path);
    FAIL() << "extracted " << archive_path;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::PathEscape) << e.what();
    EXPECT_NE(std::string(e.what()).find(archive_path), std::string::npos) << e.what();
  }
}

TEST(HooksTar, EntryWithParentDirectoryIsRefused) {
  ScratchDir dir;
  make_hooks(dir / "src");
  sh("echo evil > " + (dir / "src/evil") + " && cd " + (dir / "src") + " && tar -cPf ../dotdot.tar custom_hooks/../evil");
  expect_refused(dir / "dotdot.tar", dir / "dest/repo.git");
  EXPECT_FALSE(path_exists(dir / "dest/repo.git/evil"));
  EXPECT_FALSE(path_exists(dir / "dest/evil"));
}

TEST(HooksTar, AbsoluteEntryIsRefused) {
  ScratchDir dir;
  sh("mkdir -p " + (dir / "abs") + " && echo x > " + (dir / "abs/file") + " && tar -cPf " + (dir / "abs.tar") + " " +
     (dir / "abs/file"));
  expect_refused(dir / "abs.tar", dir / "dest/repo.git");
}

TEST(HooksTar, SymlinkAndHardlinkEntriesAreRefused) {
  ScratchDir dir;
  make_hooks(dir / "s");
  sh("ln -s /etc/passwd " + (dir / "s/custom_hooks/link") + " && cd " + (dir / "s") + " && tar -cf ../sym.tar custom_hooks");
  expect_refused(dir / "sym.tar", dir / "d1");
  EXPECT_FALSE(path_exists(dir / "d1/custom_hooks/link"));
  make_hooks(dir / "h");
  sh("ln " + (dir / "h/custom_hooks/pre-receive") + " " + (dir / "h/custom_hooks/hard") + " && cd " + (dir / "h") +
     " && tar -cf ../hard.tar custom_hooks");
  expect_refused(dir / "hard.tar", dir / "d2");
}

TEST(HooksTar, EntryOutsideCustomHooksIsRefused) {
  ScratchDir dir;
  sh("mkdir -p " + (dir / "s/hooks") + " && echo x > " + (dir / "s/hooks/post-update") + " && cd " + (dir / "s") +
     " && tar -cf ../other.tar hooks");
  expect_refused(dir / "other.tar", dir / "d");
}

TEST(HooksTar, DamagedOrTruncatedArchiveIsCorrupt) {
  ScratchDir dir;
  make_hooks(dir / "a");
  std::string tar = tar_hooks_directory(dir / "a/custom_hooks", nullptr);
  std::string flipped = tar;
  flipped[10] ^= 0x20;  // inside the first header's name: checksum no longer matches
  for (const std::string& bad : {flipped, tar.substr(0, 700), tar.substr(0, 1024)}) {
    try {
      extract_hooks_tar(bad, dir / "x", "hooks.tar");
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Corrupt) << e.what();
    }
  }
}

}  // namespace
}  // namespace gitvault
