#include "git/refs.h"

#include <gtest/gtest.h>

#include <optional>

#include "base/error.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;

TEST(RefsFile, FormatMatchesGitShowRefHead) {
  ScratchDir dir;
  testing::make_fixture_storage(dir.path(), 10);
  std::string repo = dir / "group/project.git";
  RefSnapshot snap = read_refs(repo);
  EXPECT_EQ(format_refs_file(snap), testing::show_ref(repo));
  EXPECT_EQ(snap.head_target, "refs/heads/develop");
}

TEST(RefsFile, ParseRoundTripsFormat) {
  RefSnapshot s;
  s.head_oid = std::string(40, 'a');
  s.refs = {{std::string(40, 'a'), "refs/heads/main"}, {std::string(40, 'b'), "refs/tags/v1"}};
  RefSnapshot parsed = parse_refs_file(format_refs_file(s), "x.refs");
  EXPECT_EQ(parsed, s);
}

TEST(RefsFile, ParseRejectsMalformedLinesNamingFileAndLine) {
  std::string good = std::string(40, 'a') + " refs/heads/main\n";
  for (const std::string& bad : {std::string("nonsense\n"), std::string(40, 'g') + " refs/heads/x\n",
                                std::string(40, 'a') + " refs/heads/bad..name\n", std::string(40, 'a') + " notaref\n",
                                good + good, std::string(40, 'a') + " refs/heads/main"}) {
    try {
      parse_refs_file(bad, "dir/repo.refs");
      FAIL() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Corrupt);
      EXPECT_NE(std::string(e.what()).find("dir/repo.refs"), std::string::npos) << e.what();
    }
  }
}

TEST(ReadRefs, EmptyRepositoryHasNoRefsAndUnbornHead) {
  ScratchDir dir;
  testing::make_fixture_storage(dir.path(), 10);
  RefSnapshot snap = read_refs(dir / "group/sub/empty.git");
  EXPECT_TRUE(snap.empty());
  EXPECT_EQ(snap.head_oid, "");
  EXPECT_EQ(snap.head_target, "refs/heads/trunk");
}

TEST(ReadRefs, DetachedHeadHasOidAndNoTarget) {
  ScratchDir dir;
  testing::make_fixture_storage(dir.path(), 10);
  RefSnapshot snap = read_refs(dir / "group/detached.git");
  EXPECT_EQ(snap.head_target, "");
  EXPECT_EQ(snap.head_oid, testing::sh("git --git-dir=" + (dir / "group/detached.git") + " rev-parse HEAD").substr(0, 40));
}

TEST(ReadRefs, MissingRepositoryNamesThePath) {
  try {
    read_refs("/nonexistent/repo.git");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Git);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/repo.git"), std::string::npos);
  }
}

// The plain-files reader must give libgit2's answer wherever it gives one, and give up
// (nullopt) rather than guess wherever the files are unusual.
TEST(ReadRefsPlainFiles, AgreesWithLibgit2OnEveryFixtureRepository) {
  ScratchDir dir;
  testing::make_fixture_storage(dir.path(), 300);
  for (const char* rel : {"group/project.git", "group/project.wiki.git", "group/sub/empty.git", "group/detached.git",
                          "many/refs.git"}) {
    std::string repo = dir / rel;
    std::optional<RefSnapshot> plain = read_refs_plain_files(repo);
    ASSERT_TRUE(plain.has_value()) << rel;
    EXPECT_EQ(*plain, read_refs_libgit2(repo)) << rel;
    EXPECT_EQ(format_refs_file(*plain), testing::show_ref(repo)) << rel;
  }
}

TEST(ReadRefsPlainFiles, LooseRefsWinOverPackedAndPeeledLinesAreSkipped) {
  ScratchDir dir;
  testing::make_fixture_storage(dir.path(), 10);
  std::string repo = dir / "group/project.git";
  // Everything packed (annotated tags get "^" peeled lines), then some refs moved loose
  // again to other commits, one deleted, one new, one nested deeper.
  testing::sh("cd " + repo + " && git pack-refs --all && grep -q '^\\^' packed-refs && "
              "git update-ref refs/heads/main refs/heads/feature/x && git update-ref -d refs/tags/light && "
              "git update-ref refs/heads/new/deeper/branch refs/heads/develop");
  std::optional<RefSnapshot> plain = read_refs_plain_files(repo);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(*plain, read_refs_libgit2(repo));
  EXPECT_EQ(format_refs_file(*plain), testing::show_ref(repo));
}

TEST(ReadRefsPlainFiles, SymbolicRefsResolveAndDanglingOnesAreLeftOut) {
  ScratchDir dir;
  testing::make_fixture_storage(dir.path(), 10);
  std::string repo = dir / "group/project.git";
  testing::sh("cd " + repo + " && git symbolic-ref refs/heads/alias refs/heads/feature/x && "
              "git symbolic-ref refs/heads/chain refs/heads/alias && git symbolic-ref refs/heads/dangling refs/heads/nowhere");
  std::optional<RefSnapshot> plain = read_refs_plain_files(repo);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(*plain, read_refs_libgit2(repo));
  auto oid_of = [&](const std::string& name) {
    for (const auto& r : plain->refs)
      if (r.name == name) return r.oid;
    return std::string("absent");
  };
  EXPECT_EQ(oid_of("refs/heads/alias"), oid_of("refs/heads/feature/x"));
  EXPECT_EQ(oid_of("refs/heads/chain"), oid_of("refs/heads/feature/x"));
  EXPECT_EQ(oid_of("refs/heads/dangling"), "absent");
}

TEST(ReadRefsPlainFiles, GivesUpOnUnusualFilesAndReadRefsStillAnswers) {
  struct Case {
    const char* what;
    const char* setup;  // run inside the repository
  };
  const Case cases[] = {
      {"a stale lock file", "git rev-parse develop > refs/heads/develop.lock"},
      {"a symlinked loose ref", "git update-ref refs/heads/loose develop && ln -s loose refs/heads/linked"},
      {"a loose ref with trailing garbage", "printf '%s extra\n' $(git rev-parse develop) > refs/heads/odd"},
      {"a symlinked HEAD", "ln -sf refs/heads/develop HEAD.tmp && mv -f HEAD.tmp HEAD"},
      {"a packed-refs line without newline", "git pack-refs --all && printf '%s refs/heads/x' $(git rev-parse develop) >> packed-refs"},
  };
  for (const Case& c : cases) {
    ScratchDir dir;
    testing::make_fixture_storage(dir.path(), 10);
    std::string repo = dir / "group/project.git";
    testing::sh("cd " + repo + " && " + c.setup);
    EXPECT_FALSE(read_refs_plain_files(repo).has_value()) << c.what;
    // read_refs falls back to libgit2 and gives its answer (or its error).
    std::string via_read_refs, via_libgit2;
    try {
      via_read_refs = format_refs_file(read_refs(repo));
    } catch (const Error& e) {
      via_read_refs = std::string("error: ") + e.what();
    }
    try {
      via_libgit2 = format_refs_file(read_refs_libgit2(repo));
    } catch (const Error& e) {
      via_libgit2 = std::string("error: ") + e.what();
    }
    EXPECT_EQ(via_read_refs, via_libgit2) << c.what;
  }
}

TEST(WriteRefs, GitSeesExactlyTheWrittenRefs) {
  ScratchDir dir;
  testing::make_fixture_storage(dir.path(), 10);
  RefSnapshot snap = read_refs(dir / "group/project.git");
  std::string copy = dir / "copy.git";
  testing::sh("git clone -q --bare " + (dir / "group/project.git") + " " + copy + " && rm -rf " + copy +
              "/refs/heads/* " + copy + "/refs/tags/* " + copy + "/packed-refs");
  write_refs(copy, snap);
  EXPECT_EQ(testing::show_ref(copy), testing::show_ref(dir / "group/project.git"));
  EXPECT_EQ(testing::symbolic_head(copy), "refs/heads/develop");
  EXPECT_EQ(describe_ref_differences(snap, read_refs(copy)), "");
}

TEST(DescribeRefDifferences, NamesMissingChangedAndUnexpectedRefs) {
  RefSnapshot a, b;
  a.refs = {{std::string(40, 'a'), "refs/heads/gone"}, {std::string(40, 'a'), "refs/heads/moved"}};
  b.refs = {{std::string(40, 'b'), "refs/heads/moved"}, {std::string(40, 'c'), "refs/heads/new"}};
  std::string d = describe_ref_differences(a, b);
  EXPECT_NE(d.find("refs/heads/gone is missing"), std::string::npos) << d;
  EXPECT_NE(d.find("refs/heads/moved is bbbb"), std::string::npos) << d;
  EXPECT_NE(d.find("refs/heads/new is unexpected"), std::string::npos) << d;
}

}  // namespace
}  // namespace gitvault
