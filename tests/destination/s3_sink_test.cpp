// The S3 sink beyond the shared conformance suite, on the real Ceph RADOS Gateway of
// scripts/s3-server: multipart uploads, names of any bytes, unfinished uploads, the lease.
#include "destination/s3_sink.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "base/error.h"
#include "base/sha256.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

bool any_name(const std::string&) { return true; }

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

S3Sink& as_s3(std::unique_ptr<Sink>& s) { return dynamic_cast<S3Sink&>(*s); }

TEST(S3Sink, ALargeFileGoesUpInPartsAndComesBackWhole) {
  GITVAULT_REQUIRE_S3(url);
  auto sink = open_sink(testing::s3_test_url("part_size=5242880"));
  const std::string data = random_bytes(12 * 1024 * 1024 + 17, 1);  // three parts
  {
    HashingWriter w(sink->create("big/file.bundle"), "big/file.bundle");
    for (std::size_t off = 0; off < data.size(); off += 1 << 20) w.write(data.data() + off, std::min<std::size_t>(1 << 20, data.size() - off));
    FileDigest d = w.commit();
    EXPECT_EQ(d.sha256, sha256_hex(data));
    EXPECT_EQ(check_file(*sink, d), "");
  }
  EXPECT_EQ(read_whole(*sink, "big/file.bundle"), data);
  // Nothing half-uploaded is left behind under the prefix.
  EXPECT_EQ(sink->remove_unfinished_writes(any_name), 0u);
}

// Several parts of one file go up at once (parts_in_flight), each on a connection of its own,
// through a proxy that fails every third request: the file still comes back whole.
TEST(S3Sink, PartsGoingUpSideBySideThroughFaultsStillMakeTheWholeFile) {
  GITVAULT_REQUIRE_S3(url);
  s3::Url direct = s3::parse_url(url);
  testing::FaultProxy proxy(std::stoi(direct.endpoint.url.substr(direct.endpoint.url.rfind(':') + 1)), 3);
  const std::string via = "s3://" + direct.endpoint.bucket + "/" + direct.prefix + "?endpoint=" + proxy.endpoint() +
                          "&use_path_style=true&part_size=5242880&parts_in_flight=3";
  auto sink = open_sink(via);
  const std::string data = random_bytes(26 * 1024 * 1024 + 5, 7);  // six parts
  HashingWriter w(sink->create("big/side-by-side.bundle"), "big/side-by-side.bundle");
  for (std::size_t off = 0; off < data.size(); off += 3 << 20)
    w.write(data.data() + off, std::min<std::size_t>(3 << 20, data.size() - off));
  FileDigest d = w.commit();
  auto direct_sink = open_sink(url);
  EXPECT_EQ(check_file(*direct_sink, d), "");
  EXPECT_EQ(read_whole(*direct_sink, "big/side-by-side.bundle"), data);
  EXPECT_GT(proxy.answered_503() + proxy.answered_500() + proxy.closed_before_forwarding() + proxy.cut_off_answers(), 2);
  EXPECT_EQ(direct_sink->remove_unfinished_writes(any_name), 0u);
}

TEST(S3Sink, AnAbandonedLargeWriterAbortsItsUpload) {
  GITVAULT_REQUIRE_S3(url);
  auto sink = open_sink(testing::s3_test_url("part_size=5242880"));
  {
    auto w = sink->create("big/abandoned.bundle");
    std::string part = random_bytes(6 * 1024 * 1024, 2);  // one part sent, then dropped
    w->write(part.data(), part.size());
  }
  EXPECT_FALSE(sink->exists("big/abandoned.bundle"));
  EXPECT_EQ(sink->remove_unfinished_writes(any_name), 0u);  // already aborted
}

TEST(S3Sink, UnfinishedUploadsOfAKilledRunAreAbortedByTheNextWriter) {
  GITVAULT_REQUIRE_S3(url);
  auto sink = open_sink(testing::s3_test_url());
  S3Sink& s3 = as_s3(sink);
  // What a killed run leaves: an upload started, never completed nor aborted.
  s3::Client client(s3::parse_url(testing::s3_test_url()).endpoint, s3::credentials_from_environment());
  std::string id = client.create_upload(s3.key("20261123000000/default/p.bundle"));
  client.upload_part(s3.key("20261123000000/default/p.bundle"), id, 1, "partial");
  // and another tool's upload in the same bucket, which is not gitvault's to abort
  std::string other = client.create_upload(s3.key("other-tool/upload.dat"));
  auto bundles = [](const std::string& name) { return name.ends_with(".bundle"); };
  EXPECT_EQ(sink->remove_unfinished_writes(bundles), 1u);
  EXPECT_EQ(sink->remove_unfinished_writes(bundles), 0u);
  EXPECT_EQ(sink->remove_unfinished_writes(any_name), 1u);  // the other tool's, now
}

TEST(S3Sink, NamesOfAnyBytesAreKeptExactly) {
  GITVAULT_REQUIRE_S3(url);
  auto sink = open_sink(testing::s3_test_url());
  std::vector<std::string> names = {"d/caf\xe9.git/x.bundle", "d/new\nline.refs", "d/sp ace+plus%25.refs",
                                    "d/esc\x1b[31m.refs", "d/-dash", "d/~tilde(1)"};
  for (const auto& n : names) write_whole(*sink, n, n);
  for (const auto& n : names) EXPECT_EQ(read_whole(*sink, n), n);
  auto listed = sink->list("d");
  EXPECT_EQ(listed.size(), names.size());
  auto all = sink->list_recursive("");
  std::sort(all.begin(), all.end());
  auto expected = names;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(all, expected);
  for (const auto& n : names) sink->remove(n);
  EXPECT_TRUE(sink->list_recursive("").empty());
}

TEST(S3Sink, AWriterLeaseExcludesOtherWritersAndReadersNamingItsHolder) {
  GITVAULT_REQUIRE_S3(url);
  std::string where = testing::s3_test_url();
  auto a = open_sink(where), b = open_sink(where);
  auto held = a->lock(LockHolder::current("backup", "b1", LockMode::Exclusive), std::chrono::milliseconds(0));
  for (LockMode m : {LockMode::Exclusive, LockMode::Shared}) {
    try {
      b->lock(LockHolder::current("prune", "", m), std::chrono::milliseconds(0));
      FAIL() << "the second lock was granted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Locked);
      EXPECT_NE(std::string(e.what()).find("backup b1"), std::string::npos) << e.what();
    }
  }
  held.reset();
  EXPECT_NO_THROW(b->lock(LockHolder::current("prune", "", LockMode::Exclusive), std::chrono::milliseconds(0)));
}

TEST(S3Sink, ReadersShareTheLeaseAndKeepWritersOut) {
  GITVAULT_REQUIRE_S3(url);
  std::string where = testing::s3_test_url();
  auto a = open_sink(where), b = open_sink(where);
  auto r1 = a->lock(LockHolder::current("verify", "", LockMode::Shared), std::chrono::milliseconds(0));
  auto r2 = b->lock(LockHolder::current("restore", "", LockMode::Shared), std::chrono::milliseconds(0));
  EXPECT_THROW(b->lock(LockHolder::current("backup", "", LockMode::Exclusive), std::chrono::milliseconds(0)), Error);
  r1.reset();
  r2.reset();
  EXPECT_NO_THROW(b->lock(LockHolder::current("backup", "", LockMode::Exclusive), std::chrono::milliseconds(0)));
}

// Several hosts, one backup: each host's writer holds the lease for its own host; writers
// of different hosts run together, and everyone else (readers, prune, the same host again)
// is kept out while any of them runs.
TEST(S3Sink, WritersOfDifferentHostsShareTheLeaseAndKeepEveryoneElseOut) {
  GITVAULT_REQUIRE_S3(url);
  std::string where = testing::s3_test_url();
  auto a = open_sink(where), b = open_sink(where);
  auto writer = [](const std::string& host) {
    LockHolder h = LockHolder::current("backup", "n1", LockMode::Exclusive);
    h.scope = host;
    return h;
  };
  auto host_a = a->lock(writer("gitaly-a"), std::chrono::milliseconds(0));
  auto host_b = b->lock(writer("gitaly-b"), std::chrono::milliseconds(0));  // granted: another host
  for (const LockHolder& other : {writer("gitaly-a"), LockHolder::current("prune", "", LockMode::Exclusive),
                                  LockHolder::current("verify", "", LockMode::Shared)}) {
    try {
      b->lock(other, std::chrono::milliseconds(0));
      ADD_FAILURE() << other.command << " was granted the lock beside two writers";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Locked);
      EXPECT_NE(std::string(e.what()).find("for host gitaly-"), std::string::npos) << e.what();
    }
  }
  host_a.reset();
  EXPECT_THROW(a->lock(LockHolder::current("prune", "", LockMode::Exclusive), std::chrono::milliseconds(0)), Error);
  host_b.reset();
  EXPECT_NO_THROW(a->lock(LockHolder::current("prune", "", LockMode::Exclusive), std::chrono::milliseconds(0)));
  // And the other way round: while a prune runs, no host's writer gets in.
  auto prune = a->lock(LockHolder::current("prune", "", LockMode::Exclusive), std::chrono::milliseconds(0));
  EXPECT_THROW(b->lock(writer("gitaly-b"), std::chrono::milliseconds(0)), Error);
}

TEST(S3Sink, ALeaseIsRenewedWhileItsRunLivesAndTakenOverOnceItsRunIsGone) {
  GITVAULT_REQUIRE_S3(url);
  std::string where = testing::s3_test_url("lease_seconds=3");
  auto a = open_sink(where), b = open_sink(where);
  LockHolder dead = LockHolder::current("backup", "b-dead", LockMode::Exclusive);
  {
    auto held = a->lock(LockHolder::current("backup", "b-alive", LockMode::Exclusive), std::chrono::milliseconds(0));
    std::this_thread::sleep_for(std::chrono::seconds(5));  // past the lease: renewed meanwhile
    EXPECT_THROW(b->lock(LockHolder::current("prune", "", LockMode::Exclusive), std::chrono::milliseconds(0)), Error);
  }
  // A run killed with its lease held: its objects stay, nobody renews them.
  S3Sink& s3 = as_s3(a);
  s3::Client client(s3::parse_url(where).endpoint, s3::credentials_from_environment());
  client.put(s3.key("+gitvault/lock.exclusive"), holder_to_json_text(dead));
  client.put(s3.key("+gitvault/holders/dead.json"), holder_to_json_text(dead));
  EXPECT_THROW(b->lock(LockHolder::current("prune", "", LockMode::Exclusive), std::chrono::milliseconds(0)), Error);
  std::this_thread::sleep_for(std::chrono::seconds(5));
  auto taken = b->lock(LockHolder::current("prune", "", LockMode::Exclusive), std::chrono::milliseconds(0));
  EXPECT_TRUE(taken->writer_died());
  ASSERT_FALSE(taken->dead_holders().empty());
  EXPECT_EQ(taken->dead_holders()[0].detail, "b-dead");
}

// A versioned bucket (Object Lock) refuses If-Match on a PUT, which the renewal used: a run
// there lost its lease after its first renewal and stopped (found by scripts/bench s3).
TEST(S3Sink, ALeaseOnABucketWithObjectLockIsRenewedToo) {
  GITVAULT_REQUIRE_S3_LOCKED(where, "lease_seconds=3&object_lock=governance&lock_for=10s");
  auto a = open_sink(where), b = open_sink(where);
  auto held = a->lock(LockHolder::current("backup", "b-alive", LockMode::Exclusive), std::chrono::milliseconds(0));
  std::this_thread::sleep_for(std::chrono::seconds(5));  // past the lease: renewed meanwhile
  EXPECT_EQ(held->lost(), "");
  EXPECT_THROW(b->lock(LockHolder::current("prune", "", LockMode::Exclusive), std::chrono::milliseconds(0)), Error);
  auto w = a->create("still-writing.refs");  // a run that holds its lease still writes
  w->write("x", 1);
  EXPECT_NO_THROW(w->commit());
}

TEST(OpenSink, AnUnknownSchemeIsAnErrorNotADirectory) {
  testing::ScratchDir dir;
  for (const char* bad : {"s3x://bucket/p", "gs://bucket/p", "azblob://c/p", "http://host/p"}) {
    try {
      open_sink(bad);
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Usage) << bad;
    }
  }
  EXPECT_THROW(open_sink("s3://ab/x"), Error);                           // bucket name too short
  EXPECT_THROW(open_sink("s3://bucket/x?endpoint=ftp://h"), Error);      // not http(s)
  EXPECT_THROW(open_sink("s3://bucket/x?colour=blue"), Error);           // unknown parameter
  EXPECT_THROW(open_sink("s3://bucket/x?part_size=1000"), Error);        // below S3's minimum part
}

}  // namespace
}  // namespace gitvault
