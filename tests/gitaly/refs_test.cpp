#include "gitaly/refs.h"

#include <gtest/gtest.h>

#include "gitaly/error.h"
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
