// The contract every sink must meet (see destination/sink.h). A new sink (object storage)
// adds itself to INSTANTIATE_TEST_SUITE_P below and must pass unchanged.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sys/stat.h>

#include <functional>

#include "destination/s3_sink.h"
#include "destination/sealed_sink.h"
#include "destination/sink.h"
#include "base/error.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

struct SinkFactory {
  std::string label;
  std::function<std::unique_ptr<Sink>(const std::string& scratch)> make;
};

class SinkConformance : public ::testing::TestWithParam<SinkFactory> {
 protected:
  void SetUp() override {
    sink_ = GetParam().make(dir_.path() + "/sink");
    if (!sink_) {
      if (testing::running_in_ci()) FAIL() << "no S3 server (scripts/s3-server)";
      GTEST_SKIP() << "no S3 server: run scripts/test, which starts one";
    }
  }
  std::string read_all(const std::string& name) {
    auto r = sink_->open(name);
    std::string s;
    char buf[4096];
    while (std::size_t n = r->read(buf, sizeof buf)) s.append(buf, n);
    return s;
  }
  testing::ScratchDir dir_;
  std::unique_ptr<Sink> sink_;
};

TEST_P(SinkConformance, NothingIsVisibleBeforeCommit) {
  auto w = sink_->create("a/b/file.bundle");
  w->write("hello", 5);
  EXPECT_FALSE(sink_->exists("a/b/file.bundle"));
  w->commit();
  EXPECT_TRUE(sink_->exists("a/b/file.bundle"));
  EXPECT_EQ(read_all("a/b/file.bundle"), "hello");
}

// A new file of a run (durable at the run's sync, not at its commit) is as atomic as any.
TEST_P(SinkConformance, ANewFileOfARunIsVisibleWholeAtCommitAndNothingIfAbandoned) {
  {
    auto w = sink_->create_new("n/abandoned.bundle");
    w->write("partial", 7);
  }
  EXPECT_FALSE(sink_->exists("n/abandoned.bundle"));
  EXPECT_TRUE(sink_->list("n").empty());  // not even a temporary name
  auto w = sink_->create_new("n/file.refs");
  w->write("hello", 5);
  EXPECT_FALSE(sink_->exists("n/file.refs"));
  w->commit();
  sink_->sync();
  EXPECT_EQ(read_all("n/file.refs"), "hello");
}

TEST_P(SinkConformance, AbandonedWriterLeavesNothingBehind) {
  {
    auto w = sink_->create("a/file.bundle");
    w->write("partial", 7);
  }
  EXPECT_FALSE(sink_->exists("a/file.bundle"));
  EXPECT_TRUE(sink_->list("a").empty());
  EXPECT_TRUE(testing::temp_files_under(dir_.path()).empty());
}

TEST_P(SinkConformance, CommitReplacesPreviousContentWhole) {
  write_whole(*sink_, "x", "old content that is longer");
  write_whole(*sink_, "x", "new");
  EXPECT_EQ(read_all("x"), "new");
}

TEST_P(SinkConformance, ListShowsCommittedEntriesOnly) {
  write_whole(*sink_, "d/one", "1");
  write_whole(*sink_, "d/two", "2");
  auto pending = sink_->create("d/three");
  EXPECT_EQ(sink_->list("d"), (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(sink_->list("nothing-here").empty());
}

// Prune counts what it removes from one listing with sizes: the same names as
// list_recursive, each with the bytes the destination holds for it.
TEST_P(SinkConformance, ASizedListingNamesWhatListRecursiveNamesWithTheirSizes) {
  write_whole(*sink_, "s/a.bundle", std::string(1000, 'a'));
  write_whole(*sink_, "s/d/b.refs", "bb");
  auto pending = sink_->create("s/pending.bundle");
  pending->write("xyz", 3);
  std::vector<std::string> names = sink_->list_recursive("s"), sized_names;
  std::map<std::string, std::uint64_t> sizes;
  for (const auto& f : sink_->list_recursive_sized("s")) {
    sized_names.push_back(f.name);
    sizes[f.name] = f.size;
  }
  std::sort(names.begin(), names.end());
  std::sort(sized_names.begin(), sized_names.end());
  EXPECT_EQ(sized_names, names);
  EXPECT_EQ(sized_names, (std::vector<std::string>{"s/a.bundle", "s/d/b.refs"}));
  EXPECT_GE(sizes["s/a.bundle"], 1000u);  // a sealing layer stores more than it was given
  EXPECT_GE(sizes["s/d/b.refs"], 2u);
  EXPECT_GT(sizes["s/a.bundle"], sizes["s/d/b.refs"]);
}

// A night lists only the newest records: names after a given one, entries and folders alike.
TEST_P(SinkConformance, ListAfterGivesOnlyTheNamesThatSortAfterIt) {
  for (const char* n : {"ids/20261101000000.json", "ids/20261102000000.json", "ids/20261103000000.json",
                        "ids/20261103000000.hosts/a.json", "ids/20261104000000.json"})
    write_whole(*sink_, n, "x");
  EXPECT_EQ(sink_->list_after("ids", "20261102000000.json"),
            (std::vector<std::string>{"20261103000000.hosts", "20261103000000.json", "20261104000000.json"}));
  EXPECT_EQ(sink_->list_after("ids", "20261102"), (std::vector<std::string>{"20261102000000.json", "20261103000000.hosts",
                                                                             "20261103000000.json", "20261104000000.json"}));
  EXPECT_TRUE(sink_->list_after("ids", "20261104000000.json").empty());
  EXPECT_EQ(sink_->list_after("ids", "").size(), 5u);
}

TEST_P(SinkConformance, RemoveDeletesAndMissingIsFine) {
  write_whole(*sink_, "r", "1");
  sink_->remove("r");
  EXPECT_FALSE(sink_->exists("r"));
  EXPECT_NO_THROW(sink_->remove("r"));
}

TEST_P(SinkConformance, EscapingNamesAreRefused) {
  for (const char* bad : {"../x", "/abs", "a/../../x", "a//b", "", "./a"}) {
    EXPECT_THROW(sink_->create(bad), Error) << bad;
    EXPECT_THROW(sink_->open(bad), Error) << bad;
  }
}

TEST_P(SinkConformance, OpeningMissingIsNotFoundNamingIt) {
  try {
    sink_->open("no/such/file");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound);
    EXPECT_NE(std::string(e.what()).find("no/such/file"), std::string::npos);
  }
}

TEST_P(SinkConformance, DigestsMatchContent) {
  FileDigest d = write_whole(*sink_, "f", "abc");
  EXPECT_EQ(d.size, 3u);
  EXPECT_EQ(d.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(read_verified(*sink_, d), "abc");
  write_whole(*sink_, "f", "abd");
  EXPECT_THROW(read_verified(*sink_, d), Error);
}

TEST_P(SinkConformance, PeekGivesBothEndsAndTheSizeWithoutTheMiddle) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += static_cast<char>('a' + i % 26);
  write_whole(*sink_, "dir/big", text);
  FilePeek p = sink_->peek("dir/big", 100, 4);
  EXPECT_EQ(p.size, text.size());
  EXPECT_EQ(p.head, text.substr(0, 100));
  EXPECT_EQ(p.tail, text.substr(text.size() - 4));
  FilePeek small = sink_->peek("dir/big", 50000, 4);  // asked for more than there is
  EXPECT_EQ(small.head, text);
  EXPECT_EQ(small.size, text.size());
  EXPECT_EQ(small.tail, text.substr(text.size() - 4));
  write_whole(*sink_, "tiny", "ab");
  FilePeek tiny = sink_->peek("tiny", 100, 4);
  EXPECT_EQ(tiny.head, "ab");
  EXPECT_EQ(tiny.tail, "ab");
  try {
    sink_->peek("dir/missing", 10, 4);
    ADD_FAILURE() << "peek of a missing file succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound);
    EXPECT_NE(std::string(e.what()).find("dir/missing"), std::string::npos) << e.what();
  }
}

TEST_P(SinkConformance, AReplacementHoldsItsNewContentAfterTheRunsSync) {
  write_whole(*sink_, "m/+latest.toml", "old");
  write_whole(*sink_, "m/+latest.toml", "new", FileDurability::ReplacedAtRunSync);
  sink_->sync();
  EXPECT_EQ(read_whole(*sink_, "m/+latest.toml"), "new");
  write_whole(*sink_, "m/+latest.toml", "newer", FileDurability::ReplacedAtRunSync);
  write_whole(*sink_, "m/+latest.toml", "newest", FileDurability::ReplacedAtRunSync);  // the last one wins
  sink_->sync();
  EXPECT_EQ(read_whole(*sink_, "m/+latest.toml"), "newest");
  EXPECT_EQ(sink_->list("m"), std::vector<std::string>{"+latest.toml"});
}

INSTANTIATE_TEST_SUITE_P(Local, SinkConformance,
                         ::testing::Values(SinkFactory{"local", [](const std::string& p) {
                                                         return std::unique_ptr<Sink>(new LocalSink(p));
                                                       }}),
                         [](const auto& test_info) { return test_info.param.label; });

// The sealing layer over a directory (docs/encryption.md): every file an age file, read back
// with the identity; the contract holds through it unchanged.
std::unique_ptr<Sink> sealed_local_sink(const std::string& path) {
  SealingKeys keys;
  const AgeIdentity identity = AgeIdentity::generate();
  keys.recipients = {identity.recipient()};
  keys.identities = {identity};
  keys.signer = std::make_shared<const SigningKey>(SigningKey::generate());
  keys.trusted = {keys.signer->public_key()};
  return std::make_unique<SealedSink>(std::make_unique<LocalSink>(path), std::move(keys),
                                      [](const std::string& name) {
                                        return name.rfind("+gitvault/backups/", 0) == 0 ? SealedName{SealedKind::Record, false, ""}
                                                                                        : SealedName{SealedKind::Sealed, false, ""};
                                      });
}

INSTANTIATE_TEST_SUITE_P(Sealed, SinkConformance, ::testing::Values(SinkFactory{"sealed", sealed_local_sink}),
                         [](const auto& test_info) { return test_info.param.label; });

void sh_copy(const std::string& from, const std::string& to) { testing::write_text(to, testing::read_text(from)); }

// What a sealed sink stores is an age file (Debian's `age -d` reads it: tests/seal/age_test.cpp
// and tests/e2e/sealed_e2e_test.cpp); a record keeps its first line in the clear, signed.
TEST(SealedSink, StoresAgeFilesAndSignedRecordsAndRefusesAMovedRecordAndAnUntrustedSigner) {
  testing::ScratchDir dir;
  auto sink = sealed_local_sink(dir / "sink");
  write_whole(*sink, "a/b.bundle", "secret bytes");
  const std::string stored = testing::read_text(dir / "sink/a/b.bundle");
  EXPECT_EQ(stored.rfind("age-encryption.org/v1\n", 0), 0u);
  EXPECT_EQ(stored.find("secret bytes"), std::string::npos);
  EXPECT_EQ(read_whole(*sink, "a/b.bundle"), "secret bytes");
  write_whole(*sink, "+gitvault/backups/x.json", "{\"id\":\"x\",\"repositories\":[\nsecret entry\n]}\n");
  const std::string record = testing::read_text(dir / "sink/+gitvault/backups/x.json");
  EXPECT_EQ(record.rfind("{\"id\":\"x\",\"repositories\":[\ngvseal1 gvsigner1", 0), 0u) << record.substr(0, 200);
  EXPECT_EQ(record.find("secret entry"), std::string::npos);
  EXPECT_EQ(read_whole(*sink, "+gitvault/backups/x.json"), "{\"id\":\"x\",\"repositories\":[\nsecret entry\n]}\n");
  EXPECT_EQ(sink->peek("+gitvault/backups/x.json", 100, 3).head, "{\"id\":\"x\",\"repositories\":[\n]}\n");
  // A record copied under another backup's name: its signature covers its name, so refused.
  sh_copy(dir / "sink/+gitvault/backups/x.json", dir / "sink/+gitvault/backups/y.json");
  try {
    read_whole(*sink, "+gitvault/backups/y.json");
    ADD_FAILURE() << "a record moved to another name was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad signature"), std::string::npos) << e.what();
  }
  // The same files read by a sink that trusts another signer: the record is refused.
  auto& sealed = dynamic_cast<SealedSink&>(*sink);
  SealingKeys other = sealed.keys();
  other.trusted = {SigningKey::generate().public_key()};
  SealedSink stranger(std::make_unique<LocalSink>(dir / "sink"), other,
                      [](const std::string& n) {
                        return n.rfind("+gitvault/", 0) == 0 ? SealedName{SealedKind::Record, false, ""}
                                                             : SealedName{SealedKind::Sealed, false, ""};
                      });
  try {
    read_whole(stranger, "+gitvault/backups/x.json");
    ADD_FAILURE() << "an untrusted signer was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not trust"), std::string::npos) << e.what();
  }
}

// The same suite on the real Ceph RADOS Gateway of scripts/s3-server, smallest parts.
INSTANTIATE_TEST_SUITE_P(ObjectStorage, SinkConformance,
                         ::testing::Values(SinkFactory{"s3", [](const std::string&) -> std::unique_ptr<Sink> {
                                                         std::string url = testing::s3_test_url("part_size=5242880");
                                                         if (url.empty()) return nullptr;
                                                         return open_sink(url);
                                                       }}),
                         [](const auto& test_info) { return test_info.param.label; });

// A replacement takes its name only at sync(), after its content is durable: before, the old
// content is read; a sink dropped without its sync() (a run that died) leaves the old content
// and no temporary file.
TEST(LocalSink, AReplacementTakesItsNameOnlyAtSync) {
  testing::ScratchDir dir;
  {
    LocalSink sink(dir / "backups");
    write_whole(sink, "m/+latest.toml", "old");
    write_whole(sink, "m/+latest.toml", "new", FileDurability::ReplacedAtRunSync);
    EXPECT_EQ(read_whole(sink, "m/+latest.toml"), "old");
    sink.sync();
    EXPECT_EQ(read_whole(sink, "m/+latest.toml"), "new");
    write_whole(sink, "m/+latest.toml", "never", FileDurability::ReplacedAtRunSync);
  }
  LocalSink again(dir / "backups");
  EXPECT_EQ(read_whole(again, "m/+latest.toml"), "new");
  EXPECT_TRUE(testing::temp_files_under(dir.path()).empty());
}

TEST(LocalSink, DirectoriesAre0700AndFiles0600) {
  testing::ScratchDir dir;
  LocalSink sink(dir / "backups");
  write_whole(sink, "id/default/group/p.bundle", "x");
  struct stat st;
  ASSERT_EQ(::stat((dir / "backups/id/default/group").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir / "backups/id/default/group/p.bundle").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// Reads go through no symbolic link, whether the kernel refuses them in one call (openat2)
// or the path is walked component by component: a link on the way is refused naming it, a
// link as the last name exists but is not read, and nothing outside the directory is reached.
TEST(LocalSink, ReadsRefuseEverySymbolicLinkOnTheWay) {
  testing::ScratchDir dir;
  LocalSink sink(dir / "backups");
  write_whole(sink, "real/file.bundle", "inside");
  testing::write_text(dir / "outside.bundle", "outside");
  testing::sh("mkdir -p " + (dir / "elsewhere") + " && echo outside > " + (dir / "elsewhere/file.bundle") +
              " && ln -s " + (dir / "elsewhere") + " " + (dir / "backups/linked") + " && ln -s " +
              (dir / "outside.bundle") + " " + (dir / "backups/real/leaf.bundle"));
  EXPECT_EQ(read_whole(sink, "real/file.bundle"), "inside");
  EXPECT_TRUE(sink.exists("real/file.bundle"));
  EXPECT_FALSE(sink.exists("real/missing.bundle"));
  EXPECT_FALSE(sink.exists("nowhere/missing.bundle"));
  try {
    read_whole(sink, "linked/file.bundle");
    ADD_FAILURE() << "read through a linked directory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("symbolic link"), std::string::npos) << e.what();
  }
  EXPECT_THROW(sink.exists("linked/file.bundle"), Error);
  EXPECT_TRUE(sink.exists("real/leaf.bundle"));  // the link itself is there
  try {
    read_whole(sink, "real/leaf.bundle");
    ADD_FAILURE() << "read through a linked file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("symbolic link"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gitvault
