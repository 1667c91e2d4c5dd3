#include "config/config.h"
#include "git/storage.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/files.h"
#include "git/refs.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

TEST(Discovery, FindsRepositoriesAtAnyDepthAndSkipsOtherDirectories) {
  ScratchDir dir;
  testing::make_fixture_storage(dir / "s", 10);
  Storage st{"default", dir / "s"};
  std::vector<std::string> found;
  for (const auto& r : discover_repositories(st)) found.push_back(r.relative_path);
  std::string hashed = found.front();
  EXPECT_EQ(hashed.rfind("@hashed/73/47/", 0), 0u) << hashed;
  EXPECT_EQ(found, (std::vector<std::string>{hashed, "group/detached.git", "group/project.git",
                                             "group/project.wiki.git", "group/sub/empty.git", "many/refs.git"}));
}

TEST(Discovery, ReadsProjectPathFromGitlabFullpath) {
  ScratchDir dir;
  testing::make_fixture_storage(dir / "s", 10);
  for (const auto& r : discover_repositories(Storage{"default", dir / "s"})) {
    if (r.relative_path.rfind("@hashed/", 0) == 0) {
      EXPECT_EQ(r.project_path, "group/hashed-project");
    }
    if (r.relative_path == "group/project.git") {
      EXPECT_EQ(r.project_path, "group/project");
    }
    if (r.relative_path == "group/detached.git") {
      EXPECT_EQ(r.project_path, "");
    }
  }
}

// gitlab.fullpath as git itself reads it, whether the file says it plainly (read without
// libgit2) or in any other way git allows (quoted, escaped, commented, included, said twice,
// in a differently cased section): every value written by `git config`, and hand-written
// files, give exactly what `git config --get` gives.
TEST(Discovery, ProjectPathsReadAsGitReadsThemPlainOrNot) {
  ScratchDir dir;
  const std::string repo = dir / "r.git";
  sh("git init -q --bare " + repo);
  const std::vector<std::string> values = {"group/project", "group/with  two spaces", "a;b", "a#b", "quote\"in",
                                           "back\\slash", " leading", "trailing ", "tab\tin", "ünï/π", ""};
  for (const auto& v : values) {
    sh("git --git-dir=" + repo + " config gitlab.fullpath '" + v + "'");
    const std::string by_git = sh("git --git-dir=" + repo + " config --get gitlab.fullpath || true");
    EXPECT_EQ(read_config_string(repo, "gitlab.fullpath") + "\n", by_git) << "value [" << v << "]";
  }
  const std::vector<std::string> files = {
      "[core]\n\tbare = true\n[GitLab]\n\tFullPath = Group/Upper\n",
      "[gitlab]\n\tfullpath = first\n[gitlab]\n\tfullpath = second\n",
      "[gitlab]\n\tfullpath = value ; a comment\n",
      "[gitlab] fullpath = same-line\n",
      "[other]\n\tfullpath = not-this\n",
      "[gitlab \"sub\"]\n\tfullpath = in-a-subsection\n",
      "[include]\n\tpath = extra\n[core]\n\tbare = true\n",
  };
  write_file(dir / "r.git/extra", "[gitlab]\n\tfullpath = from/an/include\n", 0644);
  for (const auto& text : files) {
    write_file(repo + "/config", text, 0644);
    const std::string by_git = sh("git --git-dir=" + repo + " config --get gitlab.fullpath || true");
    const std::string ours = read_config_string(repo, "gitlab.fullpath");
    EXPECT_EQ(ours.empty() ? "" : ours + "\n", by_git) << text;
  }
}

TEST(Discovery, NeverFollowsSymlinksOutOfTheStorage) {
  ScratchDir dir;
  testing::make_fixture_storage(dir / "outside", 10);
  testing::sh("mkdir -p " + (dir / "s") + " && ln -s " + (dir / "outside/group") + " " + (dir / "s/linked") +
              " && ln -s " + (dir / "outside/group/project.git") + " " + (dir / "s/repo.git"));
  EXPECT_TRUE(discover_repositories(Storage{"default", dir / "s"}).empty());
}

TEST(Discovery, SkipsReservedDirectories) {
  ScratchDir dir;
  testing::sh("git init -q --bare " + (dir / "s/+gitvault/tmp/restore-1") + " && git init -q --bare " +
              (dir / "s/+gitaly/tmp/x.git") + " && git init -q --bare " + (dir / "s/real.git"));
  auto repos = discover_repositories(Storage{"default", dir / "s"});
  ASSERT_EQ(repos.size(), 1u);
  EXPECT_EQ(repos[0].relative_path, "real.git");
}

TEST(RepositoryPath, EscapingPathsAreRefused) {
  ScratchDir dir;
  testing::sh("mkdir -p " + (dir / "s/group") + " " + (dir / "elsewhere") + " && ln -s " + (dir / "elsewhere") + " " +
              (dir / "s/group/link"));
  Storage st{"default", dir / "s"};
  for (const std::string& bad : std::vector<std::string>{"../x.git", "group/../../x.git", "/etc/x.git", "", "group//x.git", "./x.git",
                                "group/link/x.git", "group/link", "+gitvault/tmp/x.git", std::string("a\0b.git", 7)}) {
    try {
      resolve_repository_path(st, bad);
      FAIL() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::PathEscape);
      EXPECT_NE(std::string(e.what()).find("default"), std::string::npos);
    }
  }
  EXPECT_EQ(resolve_repository_path(st, "group/sub/new.git"), dir / "s/group/sub/new.git");
  // Every byte but '/' and NUL is a legal name: control characters, newlines, Latin-1, dashes.
  for (const std::string& odd : std::vector<std::string>{"a\nb.git", "esc\x1b.git", "caf\xe9.git", "-dash.git", "sp ace.git"})
    EXPECT_EQ(resolve_repository_path(st, odd), dir / ("s/" + odd));
}

TEST(PathFilter, MatchesRelativeOrProjectPathsAndTheirPrefixes) {
  PathFilter only_group({"group"}, {});
  EXPECT_TRUE(only_group.selects("group/a.git", ""));
  EXPECT_TRUE(only_group.selects("group/sub/b.git", ""));
  EXPECT_FALSE(only_group.selects("groupie/a.git", ""));
  EXPECT_TRUE(only_group.selects("@hashed/aa/bb/x.git", "group/x"));
  PathFilter one({"group/a"}, {});
  EXPECT_TRUE(one.selects("group/a.git", ""));
  EXPECT_FALSE(one.selects("group/ab.git", ""));
  PathFilter skip({}, {"group/sub"});
  EXPECT_TRUE(skip.selects("group/a.git", ""));
  EXPECT_FALSE(skip.selects("group/sub/b.git", ""));
}

TEST(StorageSpec, ParsesAndRejects) {
  Storage s = parse_storage_spec("default=/var/git/");
  EXPECT_EQ(s.name, "default");
  EXPECT_EQ(s.path, "/var/git");
  for (const char* bad : {"default", "=x", "x=", "bad name=/x", "a/b=/x"})
    EXPECT_THROW(parse_storage_spec(bad), Error) << bad;
}

TEST(Config, LoadsStoragesAndPathsRelativeToTheFile) {
  ScratchDir dir;
  testing::write_text(dir / "gitvault.toml",
                      "[[storage]]\nname = \"default\"\npath = \"repos\"\n[[storage]]\nname = \"s2\"\npath = "
                      "\"/srv/git2\"\n[backup]\npath = \"backups\"\n[limits]\nparallel = 4\n");
  Config c = load_config(dir / "gitvault.toml");
  ASSERT_EQ(c.storages.size(), 2u);
  EXPECT_EQ(c.storages[0].path, dir / "repos");
  EXPECT_EQ(c.storages[1].path, "/srv/git2");
  EXPECT_EQ(c.backup_path, dir / "backups");
  EXPECT_EQ(c.parallel.value_or(0), 4);
}

TEST(Config, ErrorsNameTheFile) {
  ScratchDir dir;
  testing::write_text(dir / "bad.toml", "[[storage]]\nname = \n");
  testing::write_text(dir / "dup.toml", "[[storage]]\nname='a'\npath='x'\n[[storage]]\nname='a'\npath='y'\n");
  for (const std::string& f : {dir / "bad.toml", dir / "dup.toml", dir / "missing.toml"}) {
    try {
      load_config(f);
      FAIL() << f;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Config);
      if (f != dir / "dup.toml") {
        EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace gitvault
