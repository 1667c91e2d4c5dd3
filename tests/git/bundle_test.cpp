#include "git/bundle.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/error.h"
#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {


TEST(BundleHeader, ParsesWhatGitBundleCreateWrites) {
  testing::ScratchDir dir;
  testing::make_fixture_storage(dir.path(), 10);
  std::string repo = dir / "group/project.git";
  testing::sh("git --git-dir=" + repo + " bundle create -q " + (dir / "b.bundle") + " --all");
  FileReader reader(dir / "b.bundle");
  std::string rest;
  BundleHeader h = read_bundle_header(reader, rest);
  EXPECT_EQ(h.version, 2);
  EXPECT_TRUE(h.prerequisites.empty());
  EXPECT_EQ(rest.substr(0, 4), "PACK");
  // git lists HEAD and every ref.
  EXPECT_EQ(h.refs.size(), read_refs(repo).refs.size() + 1);
}

TEST(BundleHeader, FormatThenParseKeepsPrerequisitesAndRefs) {
  BundleHeader h;
  h.prerequisites = {std::string(40, '1')};
  h.refs = {{std::string(40, 'a'), "HEAD"}, {std::string(40, 'b'), "refs/heads/main"}};
  StringReader r(format_bundle_header(h) + "PACK....", "test.bundle");
  std::string rest;
  BundleHeader p = read_bundle_header(r, rest);
  EXPECT_EQ(p.prerequisites, h.prerequisites);
  EXPECT_EQ(p.refs, h.refs);
  EXPECT_EQ(rest, "PACK....");
}

TEST(BundleHeader, RejectsNonBundleTruncatedHeaderAndMissingPack) {
  std::string ok_header = "# v2 git bundle\n" + std::string(40, 'a') + " refs/heads/main\n\n";
  for (const std::string& bad : {std::string("not a bundle at all"), std::string("# v2 git bundle\n") + std::string(40, 'a'),
                                ok_header, ok_header + "PA", std::string("# v2 git bundle\nxyz refs/heads/main\n\nPACK")}) {
    StringReader r(bad, "test.bundle");
    std::string rest;
    try {
      read_bundle_header(r, rest);
      FAIL() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Corrupt);
      EXPECT_NE(std::string(e.what()).find("test.bundle"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace gitvault
