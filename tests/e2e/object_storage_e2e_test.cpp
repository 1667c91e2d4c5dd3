// Backups in object storage end to end, on the real Ceph RADOS Gateway of scripts/s3-server:
// every command on both paths through an s3:// destination, and what must never happen
// (an unknown scheme writing a local directory).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <unistd.h>

#include "destination/s3_sink.h"
#include "base/files.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/storage_fixture.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

class ObjectStorage : public testing::StorageFixture {};

TEST_F(ObjectStorage, EveryCommandWorksOnBothPathsThroughAnS3Destination) {
  GITVAULT_REQUIRE_S3(url);
  const std::string storage = "default=" + (dir_ / "storage");
  flag("true");
  auto b1 = gv({"backup", "--storage", storage, "--path", url, "--id", "p1"});
  ASSERT_EQ(b1.exit_code, 0) << b1.out << b1.err;
  EXPECT_NE(b1.out.find("paths: 6 pipeline, 0 legacy"), std::string::npos) << b1.out;
  flag("false");
  auto b2 = gv({"backup", "--storage", storage, "--path", url, "--id", "l1"});
  ASSERT_EQ(b2.exit_code, 0) << b2.out << b2.err;
  EXPECT_NE(b2.out.find("paths: 0 pipeline, 6 legacy"), std::string::npos) << b2.out;
  EXPECT_FALSE(std::filesystem::exists("s3:"));  // nothing local was written

  auto list = gv({"backups", "--path", url});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("p1"), std::string::npos);
  EXPECT_NE(list.out.find("l1"), std::string::npos);
  auto v = gv({"verify", "--path", url, "--all", "--deep"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("no problem"), std::string::npos) << v.out;

  // Each backup restored by the other engine: the pipeline's by the legacy engine (flag
  // off), the legacy one's by the worker (flag on), both exactly as backed up.
  const std::string original = refs_of_all(dir_ / "storage");
  auto r1 = gv({"restore", "--storage", "default=" + (dir_ / "r1"), "--path", url, "--id", "p1"});
  ASSERT_EQ(r1.exit_code, 0) << r1.out << r1.err;
  EXPECT_EQ(refs_of_all(dir_ / "r1"), original);
  flag("true");
  auto r2 = gv({"restore", "--storage", "default=" + (dir_ / "r2"), "--path", url, "--id", "l1"});
  ASSERT_EQ(r2.exit_code, 0) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("paths: 6 pipeline, 0 legacy"), std::string::npos) << r2.out;
  EXPECT_EQ(refs_of_all(dir_ / "r2"), original);

  // A night with nothing new writes nothing but its record.
  auto inc = gv({"backup", "--storage", storage, "--path", url, "--id", "p2", "--incremental", "--previous-id", "p1"});
  ASSERT_EQ(inc.exit_code, 0) << inc.out << inc.err;
  EXPECT_NE(inc.out.find("written: 0 B"), std::string::npos) << inc.out;

  // What a killed run leaves in object storage: an upload never completed. Prune aborts it.
  s3::Url where = s3::parse_url(url);
  s3::Client client(where.endpoint, s3::credentials_from_environment());
  std::string id = client.create_upload(where.prefix + "/default/killed.git/p9/001.bundle");
  client.upload_part(where.prefix + "/default/killed.git/p9/001.bundle", id, 1, "half a bundle");
  auto prune = gv({"prune", "--path", url, "--keep-last", "1"});
  ASSERT_EQ(prune.exit_code, 0) << prune.out << prune.err;
  EXPECT_NE(prune.out.find("removed backup l1"), std::string::npos) << prune.out;
  EXPECT_NE(prune.out.find("removed 1 unfinished writes"), std::string::npos) << prune.out;
  EXPECT_TRUE(client.list_uploads(where.prefix + "/").empty());
  auto after = gv({"verify", "--path", url, "--deep"});
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;  // p2 still restorable: p1's files it needs are kept
  auto r3 = gv({"restore", "--storage", "default=" + (dir_ / "r3"), "--path", url});
  ASSERT_EQ(r3.exit_code, 0) << r3.out << r3.err;
  EXPECT_EQ(refs_of_all(dir_ / "r3"), original);
}

TEST_F(ObjectStorage, ASecondWriterIsRefusedNamingTheFirstAndWaitsWithWait) {
  GITVAULT_REQUIRE_S3(url);
  // This test process holds the destination's lease, as a running backup would.
  auto sink = open_sink(url);
  auto held = sink->lock(LockHolder::current("backup", "held", LockMode::Exclusive), std::chrono::milliseconds(0));
  auto b = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", url, "--id", "second"});
  EXPECT_EQ(b.exit_code, 2) << b.out << b.err;
  EXPECT_NE(b.err.find("in use by backup held (pid " + std::to_string(::getpid())), std::string::npos) << b.err;
  auto v = gv({"verify", "--path", url});
  EXPECT_EQ(v.exit_code, 2) << v.out << v.err;  // readers wait for the writer too
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    held.reset();
  });
  auto waited = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", url, "--id", "third", "--wait", "1m"});
  release.join();
  EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
}

TEST_F(ObjectStorage, TheConfigFileNamesTheBucketTheEndpointAndTheKeys) {
  GITVAULT_REQUIRE_S3(url);
  s3::Url where = s3::parse_url(url);
  s3::Credentials keys = s3::credentials_from_environment();
  std::string config = dir_ / "gitvault.toml";
  testing::write_text(config, "[[storage]]\nname = \"default\"\npath = \"" + (dir_ / "storage") +
                                  "\"\n[backup]\npath = \"s3://" + where.endpoint.bucket + "/" + where.prefix +
                                  "\"\n[s3]\nendpoint = \"" + where.endpoint.url + "\"\nregion = \"" +
                                  where.endpoint.region + "\"\nuse_path_style = true\naccess_key_id = \"" +
                                  keys.access_key_id + "\"\nsecret_access_key = \"" + keys.secret_access_key + "\"\n");
  std::vector<std::pair<std::string, std::string>> no_keys = {
      {"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"}, {"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}};
  sh("chmod 644 " + config);
  auto refused = testing::gitvault({"backup", "--config", config, "--id", "c1"}, no_keys);
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("chmod 600"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find(keys.secret_access_key), std::string::npos);  // never printed
  sh("chmod 600 " + config);
  for (const char* flag_value : {"true", "false"}) {  // the worker and the legacy engine alike
    auto f = testing::gitvault({"feature", "set", "gitaly_backup", flag_value}, no_keys);
    ASSERT_EQ(f.exit_code, 0) << f.err;
    std::string id = std::string("c-") + flag_value;
    auto b = testing::gitvault({"backup", "--config", config, "--id", id}, no_keys);
    ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
    EXPECT_EQ(b.err.find(keys.secret_access_key), std::string::npos);
  }
  auto v = testing::gitvault({"verify", "--config", config, "--all"}, no_keys);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  auto listed = testing::gitvault({"backups", "--config", config}, no_keys);
  EXPECT_NE(listed.out.find("c-true"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("c-false"), std::string::npos) << listed.out;
}

TEST_F(ObjectStorage, WrongCredentialsFailClearlyAndNothingIsReportedDone) {
  GITVAULT_REQUIRE_S3(url);
  const std::string secret = "wrong-secret-0123456789abcdef";
  for (const auto& [id, key] : std::vector<std::pair<std::string, std::string>>{
           {"GVNOSUCHKEY000000000", secret}, {s3::credentials_from_environment().access_key_id, secret}}) {
    auto b = testing::gitvault({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", url, "--id", "w1"},
                               {{"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"}, {"AWS_ACCESS_KEY_ID", id},
                                {"AWS_SECRET_ACCESS_KEY", key}});
    EXPECT_EQ(b.exit_code, 2) << b.err;  // refused before anything was attempted
    EXPECT_EQ(b.out.find("complete"), std::string::npos) << b.out;
    EXPECT_NE(b.err.find("check the S3 credentials"), std::string::npos) << b.err;
    EXPECT_NE(b.err.find("HTTP 403"), std::string::npos) << b.err;  // status and S3's code, bucket and key
    EXPECT_NE(b.err.find("s3://"), std::string::npos) << b.err;
    EXPECT_EQ(b.err.find(secret), std::string::npos) << b.err;      // the secret is never printed
  }
  auto none = testing::gitvault({"backups", "--path", url},
                                {{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""},
                                 {"AWS_SHARED_CREDENTIALS_FILE", dir_ / "no-such-file"}});
  EXPECT_EQ(none.exit_code, 2) << none.err;
  EXPECT_NE(none.err.find("no S3 credentials"), std::string::npos) << none.err;
}

// The gateway dies in the middle of a backup: the run fails (after its retries), says what
// it could not reach, and never reports the backup complete. The gateway comes back: the
// next run takes over the dead run's lease, cleans up and succeeds, and prune removes what
// the dead run left. Its own gateway, so that the other tests keep theirs.
TEST_F(ObjectStorage, AGatewayKilledMidRunFailsTheBackupAndNeverReportsItComplete) {
  GITVAULT_REQUIRE_S3(shared_url);
  const int x = static_cast<int>(::getpid() % 250);
  const std::string port = std::to_string(7600 + x), mon = std::to_string(3000 + x);
  ScratchDir gw;
  std::string env_text = sh("GITVAULT_S3_PORT=" + port + " GITVAULT_S3_MON_PORT=" + mon + " " + GITVAULT_SOURCE_DIR +
                            "/scripts/s3-server start " + gw.path() + "/s3 2>/dev/null");
  auto value = [&](const std::string& name) {
    auto at = env_text.find("export " + name + "=");
    auto start = at + 8 + name.size();
    return env_text.substr(start, env_text.find('\n', start) - start);
  };
  const std::string url =
      "s3://gitvault-test/killed?endpoint=http://127.0.0.1:" + port + "&use_path_style=true&lease_seconds=3";
  testing::write_text(dir_ / "slow-git", "#!/bin/sh\ncase \"$*\" in *pack-objects*) sleep 0.5;; esac\nexec git \"$@\"\n");
  sh("chmod +x " + (dir_ / "slow-git"));
  flag("false");  // the legacy engine: one repository at a time, so the kill lands mid-run
  std::string run = "GITVAULT_FLAGS_DB=" + (dir_ / "flags/flags.db") + " GITVAULT_GIT=" + (dir_ / "slow-git") +
                    " AWS_ACCESS_KEY_ID=" + value("AWS_ACCESS_KEY_ID") + " AWS_SECRET_ACCESS_KEY=" +
                    value("AWS_SECRET_ACCESS_KEY") + " " + testing::gitvault_binary() + " backup --storage default=" +
                    (dir_ / "storage") + " --path '" + url + "' --id k1 > " + (dir_ / "k1.out") + " 2>" +
                    (dir_ / "k1.err") + "; echo $? > " + (dir_ / "k1.rc");
  sh("(" + run + ") > /dev/null 2>&1 &");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  sh("kill -9 $(cat " + gw.path() + "/s3/run/rgw.pid)");
  for (int i = 0; i < 1200 && !path_exists(dir_ / "k1.rc"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  struct StopGateway {
    std::string dir;
    ~StopGateway() { sh(std::string(GITVAULT_SOURCE_DIR) + "/scripts/s3-server stop " + dir + " >/dev/null 2>&1"); }
  } stop_gateway{gw.path() + "/s3"};
  ASSERT_TRUE(path_exists(dir_ / "k1.rc")) << "the backup never ended";
  std::string out = testing::read_text(dir_ / "k1.out"), err = testing::read_text(dir_ / "k1.err");
  EXPECT_NE(testing::read_text(dir_ / "k1.rc"), "0\n") << out << err;
  EXPECT_EQ(out.find(": complete"), std::string::npos) << out;
  EXPECT_NE((out + err).find("127.0.0.1:" + port), std::string::npos) << out << err;  // what it could not reach

  // The gateway comes back with what it stored; the dead run's lease expires (3 s).
  sh(std::string(GITVAULT_SOURCE_DIR) + "/scripts/s3-server start-gateway " + gw.path() + "/s3 >/dev/null 2>&1");
  std::this_thread::sleep_for(std::chrono::seconds(4));
  std::vector<std::pair<std::string, std::string>> env = {{"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"},
                                                          {"AWS_ACCESS_KEY_ID", value("AWS_ACCESS_KEY_ID")},
                                                          {"AWS_SECRET_ACCESS_KEY", value("AWS_SECRET_ACCESS_KEY")}};
  auto k2 = testing::gitvault({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", url, "--id", "k2"}, env);
  ASSERT_EQ(k2.exit_code, 0) << k2.out << k2.err;
  EXPECT_NE(k2.out.find("k2: complete"), std::string::npos) << k2.out;
  EXPECT_NE(k2.err.find("took over the lock"), std::string::npos) << k2.err;
  auto listed = testing::gitvault({"backups", "--path", url, "--json"}, env);
  EXPECT_NE(listed.out.find("{\"bytes\""), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("\"id\":\"k1\""), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("\"status\":\"running\""), std::string::npos) << listed.out;  // k1: never reported done
  auto restored = testing::gitvault({"restore", "--storage", "default=" + (dir_ / "back"), "--path", url}, env);
  ASSERT_EQ(restored.exit_code, 0) << restored.out << restored.err;
  EXPECT_NE(restored.out.find("restore of backup k2"), std::string::npos) << restored.out;
  EXPECT_EQ(refs_of_all(dir_ / "back"), refs_of_all(dir_ / "storage"));
  auto pruned = testing::gitvault({"prune", "--path", url, "--keep-last", "1"}, env);
  ASSERT_EQ(pruned.exit_code, 0) << pruned.out << pruned.err;
  EXPECT_NE(pruned.out.find("removed backup k1"), std::string::npos) << pruned.out;
  auto verified = testing::gitvault({"verify", "--path", url, "--all"}, env);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
}

// Between gitvault and the gateway, a proxy answers every 5th request with 503 or 500,
// closes the connection, or lets the gateway do the work and cuts its answer off (so a
// retried CompleteMultipartUpload finds its upload gone). Every command still succeeds, and
// what it restores is exactly what was backed up.
TEST_F(ObjectStorage, InjectedErrorsAndDroppedConnectionsAreRetriedAndEveryCommandSucceeds) {
  GITVAULT_REQUIRE_S3(url);
  s3::Url where = s3::parse_url(url);
  const int gateway_port = std::stoi(where.endpoint.url.substr(where.endpoint.url.rfind(':') + 1));
  testing::FaultProxy proxy(gateway_port, 5);
  const std::string via = "s3://" + where.endpoint.bucket + "/" + where.prefix + "?endpoint=" + proxy.endpoint() +
                          "&use_path_style=true&part_size=5242880";
  // One repository whose bundle is three parts: multipart uploads and ranged reads meet faults too.
  const std::string big = dir_ / "storage/big.git";
  sh("git init -q --bare " + big + " && git clone -q " + big + " " + (dir_ / "w") + " 2>/dev/null && head -c 12000000 "
     "/dev/urandom > " + (dir_ / "w/blob") + " && git -C " + (dir_ / "w") + " add blob && git -C " + (dir_ / "w") +
     " -c user.name=t -c user.email=t@example.com commit -qm big && git -C " + (dir_ / "w") +
     " push -q origin HEAD:refs/heads/master");
  const std::string storage = "default=" + (dir_ / "storage");
  const std::string original = refs_of_all(dir_ / "storage");
  flag("true");
  auto p1 = gv({"backup", "--storage", storage, "--path", via, "--id", "p1"});
  ASSERT_EQ(p1.exit_code, 0) << p1.out << p1.err;
  EXPECT_NE(p1.out.find("p1: complete"), std::string::npos) << p1.out;
  flag("false");
  auto l1 = gv({"backup", "--storage", storage, "--path", via, "--id", "l1"});
  ASSERT_EQ(l1.exit_code, 0) << l1.out << l1.err;
  auto v = gv({"verify", "--path", via, "--all", "--deep"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  auto r1 = gv({"restore", "--storage", "default=" + (dir_ / "r1"), "--path", via, "--id", "p1"});
  ASSERT_EQ(r1.exit_code, 0) << r1.out << r1.err;
  EXPECT_EQ(refs_of_all(dir_ / "r1"), original);
  flag("true");
  auto r2 = gv({"restore", "--storage", "default=" + (dir_ / "r2"), "--path", via, "--id", "l1"});
  ASSERT_EQ(r2.exit_code, 0) << r2.out << r2.err;
  EXPECT_EQ(refs_of_all(dir_ / "r2"), original);
  // The faults really happened, every kind of them.
  EXPECT_GT(proxy.requests(), 100);
  EXPECT_GT(proxy.answered_503(), 0);
  EXPECT_GT(proxy.answered_500(), 0);
  EXPECT_GT(proxy.closed_before_forwarding(), 0);
  EXPECT_GT(proxy.cut_off_answers(), 0);
}

// A destination that cannot be used stops the run before any work, exit 2, saying which.
TEST_F(ObjectStorage, AMissingBucketOrAnUnreachableEndpointStopsTheRunBeforeAnyWork) {
  GITVAULT_REQUIRE_S3(url);
  s3::Url where = s3::parse_url(url);
  auto missing = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path",
                     "s3://no-such-bucket-gv/x?endpoint=" + where.endpoint.url + "&use_path_style=true", "--id", "m1"});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find("the bucket 'no-such-bucket-gv' does not exist"), std::string::npos) << missing.err;
  auto proxy = std::make_unique<testing::FaultProxy>(1, 0);
  const std::string nowhere = proxy->endpoint();  // a port nothing listens on once the proxy is gone
  proxy.reset();
  auto unreachable = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path",
                         "s3://" + where.endpoint.bucket + "/x?endpoint=" + nowhere + "&use_path_style=true"});
  EXPECT_EQ(unreachable.exit_code, 2) << unreachable.err;
  EXPECT_NE(unreachable.err.find("cannot reach the S3 endpoint " + nowhere), std::string::npos) << unreachable.err;
  auto listed = gv({"backups", "--path", "s3://" + where.endpoint.bucket + "/x?endpoint=" + nowhere + "&use_path_style=true"});
  EXPECT_EQ(listed.exit_code, 2) << listed.err;
}

TEST_F(ObjectStorage, AnUnknownSchemeIsRefusedAndNothingIsWritten) {
  auto b = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", "s3x://bucket/x"});
  EXPECT_EQ(b.exit_code, 2) << b.out << b.err;
  EXPECT_NE(b.err.find("unknown backup destination scheme 's3x://'"), std::string::npos) << b.err;
  EXPECT_FALSE(std::filesystem::exists("s3x:"));
}

}  // namespace
}  // namespace gitvault
