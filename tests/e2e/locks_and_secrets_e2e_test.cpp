// Locks and secrets against a hostile neighbour, with the real binaries: a `holders` link
// planted in a storage or in the backup directory removes nothing; a holder file that cannot
// be read is reported and left alone; no `git` child ever sees the S3 secrets; a bucket
// without a prefix and plain http to another machine are refused before any request.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/encoding.h"
#include "base/files.h"
#include "s3/client.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

class LocksAndSecrets : public ::testing::Test {
 protected:
  void SetUp() override { testing::make_fixture_storage(dir_ / "storage", 20); }
  testing::CommandResult gv(std::vector<std::string> args, bool flag_on = true,
                            std::vector<std::pair<std::string, std::string>> env = {}) {
    env.push_back({"GITVAULT_FEATURES", std::string("gitaly_backup=") + (flag_on ? "true" : "false")});
    env.push_back({"GITVAULT_FLAGS_DB", dir_ / "flags.db"});
    return testing::gitvault(args, env);
  }
  std::string storage_arg() const { return "default=" + (dir_ / "storage"); }
  std::string records() const { return dir_ / "backups/+gitvault/backups"; }
  ScratchDir dir_;
};

// The git user owns the storage: it pointed <storage>/+gitvault/holders at the backup's
// records, and the next backup took every record for a dead holder's file and removed it.
TEST_F(LocksAndSecrets, AHoldersLinkPlantedInAStorageRemovesNoRecord) {
  for (bool flag_on : {true, false}) {
    SCOPED_TRACE(flag_on ? "pipeline" : "legacy");
    const std::string first = flag_on ? "l1" : "k1", second = flag_on ? "l2" : "k2";
    ASSERT_EQ(gv({"backup", "--storage", storage_arg(), "--path", dir_ / "backups", "--id", first}, flag_on).exit_code, 0);
    sh("rm -rf " + (dir_ / "storage/+gitvault/holders") + " && ln -s " + records() + " " +
       (dir_ / "storage/+gitvault/holders"));
    auto b = gv({"backup", "--storage", storage_arg(), "--path", dir_ / "backups", "--id", second}, flag_on);
    EXPECT_EQ(b.exit_code, 0) << b.out << b.err;
    EXPECT_NE((b.out + b.err).find("symbolic link"), std::string::npos) << b.out << b.err;  // the run says why it runs unlocked
    EXPECT_TRUE(path_exists(records() + "/" + first + ".json"));
    EXPECT_TRUE(path_exists(records() + "/" + second + ".json"));
    // A restore, which needs the storage's lock, refuses to run instead of following the link.
    auto r = gv({"restore", "--storage", storage_arg(), "--path", dir_ / "backups", "--id", first}, flag_on);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_TRUE(path_exists(records() + "/" + first + ".json"));
    sh("rm " + (dir_ / "storage/+gitvault/holders"));
  }
  // The backup directory's own holders planted as a link: refused, nothing behind it removed.
  sh("mkdir -p " + (dir_ / "precious") + " && echo keep > " + (dir_ / "precious/a.json") + " && rm -rf " +
     (dir_ / "backups/+gitvault/holders") + " && ln -s " + (dir_ / "precious") + " " + (dir_ / "backups/+gitvault/holders"));
  auto b = gv({"backup", "--storage", storage_arg(), "--path", dir_ / "backups", "--id", "l3"});
  EXPECT_EQ(b.exit_code, 2) << b.out << b.err;
  EXPECT_NE(b.err.find("symbolic link"), std::string::npos) << b.err;
  EXPECT_EQ(testing::read_text(dir_ / "precious/a.json"), "keep\n");
  EXPECT_TRUE(path_exists(records() + "/l1.json"));
}

TEST_F(LocksAndSecrets, AHolderFileThatCannotBeReadIsReportedAndLeftAlone) {
  ASSERT_EQ(gv({"backup", "--storage", storage_arg(), "--path", dir_ / "backups", "--id", "h1"}).exit_code, 0);
  const std::string odd = dir_ / "backups/+gitvault/holders/not-json.json";
  testing::write_text(odd, "this is not a holder\n");
  auto b = gv({"backup", "--storage", storage_arg(), "--path", dir_ / "backups", "--id", "h2"});
  EXPECT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_NE((b.out + b.err).find("not-json.json cannot be read; left alone"), std::string::npos) << b.out << b.err;
  EXPECT_EQ(testing::read_text(odd), "this is not a holder\n");
  auto p = gv({"prune", "--path", dir_ / "backups", "--keep-last", "1"});
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_TRUE(path_exists(odd));
}

// A `git` first in PATH that writes down its environment: with the keys both in the
// environment and in a 0600 config's [s3], a backup to a local directory used to hand
// AWS_SECRET_ACCESS_KEY to every git child.
TEST_F(LocksAndSecrets, NoGitChildSeesTheS3Secrets) {
  sh("mkdir -p " + (dir_ / "bin") + " " + (dir_ / "envs") + " && printf '#!/bin/sh\\nenv > " + (dir_ / "envs") +
     "/git-$$.env\\nexec /usr/bin/git \"$@\"\\n' > " + (dir_ / "bin/git") + " && chmod +x " + (dir_ / "bin/git"));
  testing::write_text(dir_ / "gitvault.toml", "[[storage]]\nname = \"default\"\npath = \"storage\"\n[backup]\npath = \"backups\"\n"
                                              "[s3]\naccess_key_id = \"CONFIGKEYID\"\nsecret_access_key = \"config-secret-value\"\n");
  sh("chmod 600 " + (dir_ / "gitvault.toml"));
  const char* path = std::getenv("PATH");
  for (bool flag_on : {true, false}) {
    SCOPED_TRACE(flag_on ? "pipeline" : "legacy");
    auto b = gv({"backup", "--config", dir_ / "gitvault.toml", "--id", flag_on ? "p1" : "q1"}, flag_on,
                {{"PATH", (dir_ / "bin") + ":" + (path ? path : "/usr/bin:/bin")},
                 {"AWS_ACCESS_KEY_ID", "ENVKEYID"},
                 {"AWS_SECRET_ACCESS_KEY", "env-secret-value"},
                 {"AWS_SESSION_TOKEN", "env-session-token"}});
    EXPECT_EQ(b.exit_code, 0) << b.out << b.err;
  }
  std::string seen = sh("cat " + (dir_ / "envs") + "/*.env");
  EXPECT_GT(std::stoi(sh("ls " + (dir_ / "envs") + " | wc -l")), 3) << "the fake git was hardly ever run";
  EXPECT_NE(seen.find("PATH="), std::string::npos);
  for (const char* secret : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "env-secret-value", "config-secret-value", "env-session-token", "ENVKEYID"})
    EXPECT_EQ(seen.find(secret), std::string::npos) << secret << " reached a git child";
}

TEST_F(LocksAndSecrets, ABucketWithoutAPrefixIsRefusedUnlessTheWholeBucketIsAllowed) {
  // Port 9 on loopback: nothing answers there, and no request is made before the refusal.
  auto b = gv({"backup", "--storage", storage_arg(), "--path", "s3://shared-bucket?endpoint=http://127.0.0.1:9"});
  EXPECT_EQ(b.exit_code, 2) << b.out << b.err;
  EXPECT_NE(b.err.find("no prefix"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("allow_whole_bucket"), std::string::npos) << b.err;
  for (std::string cmd : {"prune", "backups", "verify"}) {
    std::vector<std::string> args = {cmd, "--path", "s3://shared-bucket/?endpoint=http://127.0.0.1:9"};
    if (cmd == "prune") args.insert(args.end(), {"--keep-last", "1"});
    auto r = gv(args);
    EXPECT_EQ(r.exit_code, 2) << cmd << r.err;
    EXPECT_NE(r.err.find("no prefix"), std::string::npos) << cmd << r.err;
  }
  // Allowed explicitly: the refusal is gone (the run then finds no gateway on port 9).
  auto allowed = gv({"backups", "--path", "s3://shared-bucket?endpoint=http://127.0.0.1:9&allow_whole_bucket=true"});
  EXPECT_EQ(allowed.exit_code, 2);
  EXPECT_EQ(allowed.err.find("no prefix"), std::string::npos) << allowed.err;
  EXPECT_NE(allowed.err.find("cannot reach"), std::string::npos) << allowed.err;
}

TEST_F(LocksAndSecrets, PlainHttpToAnotherMachineIsRefusedBeforeAnyRequest) {
  // 192.0.2.0/24 is TEST-NET-1: the refusal comes from the URL alone, nothing is sent there.
  for (std::string endpoint : {"http://192.0.2.10:7480", "http://rgw.example.com", "http://[2001:db8::1]:80"}) {
    auto b = gv({"backups", "--path", "s3://bucket/prefix?endpoint=" + endpoint});
    EXPECT_EQ(b.exit_code, 2) << endpoint << b.err;
    EXPECT_NE(b.err.find("plain http to another machine"), std::string::npos) << endpoint << b.err;
    EXPECT_NE(b.err.find("allow_insecure_http"), std::string::npos) << endpoint << b.err;
  }
  // Loopback is this machine: allowed (and here nobody answers).
  for (std::string endpoint : {"http://localhost:9", "http://[::1]:9"}) {
    auto b = gv({"backups", "--path", "s3://bucket/prefix?endpoint=" + endpoint});
    EXPECT_EQ(b.exit_code, 2) << endpoint;
    EXPECT_EQ(b.err.find("plain http"), std::string::npos) << endpoint << b.err;
  }
}

// https always verifies the server: a self-signed gateway is refused unless its certificate
// is given with ca_file.
TEST_F(LocksAndSecrets, HttpsVerifiesTheServerUnlessItsCaIsGiven) {
  sh("cd " + dir_.path() + " && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 "
     "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null");
  // A TLS server on loopback that answers every request with 404 at once (no S3 behind it).
  sh("cd " + dir_.path() + " && (python3 -c \"import http.server, ssl; "
     "s = http.server.HTTPServer(('127.0.0.1', 0), http.server.BaseHTTPRequestHandler); "
     "c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain('cert.pem', 'key.pem'); "
     "s.socket = c.wrap_socket(s.socket, server_side=True); "
     "open('port.txt', 'w').write(str(s.server_address[1])); s.serve_forever()\" > /dev/null 2>&1 & "
     "echo $! > server.pid); for i in $(seq 1 100); do [ -s port.txt ] && break; sleep 0.05; done");
  const std::string port = testing::read_text(dir_ / "port.txt");
  const std::string url = "s3://bucket/prefix?endpoint=https://127.0.0.1:" + port;
  auto refused = gv({"backups", "--path", url});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("certificate"), std::string::npos) << refused.err;
  auto trusted = gv({"backups", "--path", url + "&ca_file=" + (dir_ / "cert.pem")});
  EXPECT_EQ(trusted.err.find("certificate"), std::string::npos) << trusted.err;  // past TLS: s_server is no S3
  sh("kill $(cat " + (dir_ / "server.pid") + ") 2>/dev/null; true");
}

// Another tool's object and unfinished upload in gitvault's prefix (or, with
// allow_whole_bucket, anywhere in the bucket): prune used to delete every object no record
// names and abort every upload. Only names gitvault's layout can produce are touched.
TEST_F(LocksAndSecrets, AnotherToolsObjectAndUploadInTheSamePrefixSurvivePrune) {
  GITVAULT_REQUIRE_S3(url);
  const s3::Url where = s3::parse_url(url);
  s3::Client client(where.endpoint, s3::credentials_from_environment());
  const std::string theirs = where.prefix + "/other-tool/data.bin", upload_key = where.prefix + "/other-tool/big.bin";
  client.put(theirs, "not gitvault's");
  const std::string upload = client.create_upload(upload_key);
  // A leftover of gitvault's own that no record names: prune still removes it.
  client.put(where.prefix + "/default/gone.git/20200101000000/001.refs", "");
  for (const char* id : {"f1", "f2"}) {
    auto b = gv({"backup", "--storage", storage_arg(), "--path", url, "--id", id});
    ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  }
  auto p = gv({"prune", "--path", url, "--keep-last", "1"});
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_NE(p.out.find("removed backup f1"), std::string::npos) << p.out;
  EXPECT_NE((p.out + p.err).find("cannot have written left alone"), std::string::npos) << p.out << p.err;
  EXPECT_EQ(client.get(theirs).value_or("(gone)"), "not gitvault's");
  bool upload_kept = false;
  for (const auto& u : client.list_uploads(where.prefix + "/")) upload_kept = upload_kept || u.upload_id == upload;
  EXPECT_TRUE(upload_kept) << "prune aborted another tool's upload";
  EXPECT_FALSE(client.get(where.prefix + "/default/gone.git/20200101000000/001.refs").has_value());
  client.abort_upload(upload_key, upload);
  auto v = gv({"verify", "--path", url, "--all"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// A gateway (or someone in the middle) that answers a ranged GET with fewer bytes than asked,
// in a well-formed answer: a short chunk used to count as the end of the file.
TEST_F(LocksAndSecrets, AShortRangedAnswerIsAnErrorNotTheEndOfTheFile) {
  GITVAULT_REQUIRE_S3(url);
  const s3::Url where = s3::parse_url(url);
  testing::FaultProxy proxy(testing::FaultProxy::port_of(where.endpoint.url), 0);
  const std::string via = proxy.s3_url(where.endpoint.bucket, where.prefix);
  auto b = gv({"backup", "--storage", storage_arg(), "--path", via, "--id", "r1"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  proxy.short_ranges(true);
  auto v = gv({"verify", "--path", via, "--id", "r1"});
  EXPECT_NE(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE((v.out + v.err).find("for a range of"), std::string::npos) << v.out << v.err;
  proxy.short_ranges(false);
  auto again = gv({"verify", "--path", via, "--id", "r1"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
}

// A git that takes its time, so that a backup of the fixture lasts several seconds.
std::string slow_git(const ScratchDir& dir, const std::string& seconds = "0.3") {
  testing::write_text(dir / "slow-git", "#!/bin/sh\nsleep " + seconds + "\nexec git \"$@\"\n");
  sh("chmod +x " + (dir / "slow-git"));
  return dir / "slow-git";
}

// The gateway stalls for longer than the backup's lease while a prune runs (the prune reaches
// the gateway, the backup's requests are held). The prune takes the lease over and removes
// the backup's files; the backup must learn that its lease is gone, stop, and never write a
// complete record naming files that no longer exist.
TEST_F(LocksAndSecrets, ABackupWhoseGatewayStallsPastItsLeaseStopsAndNeverSaysComplete) {
  GITVAULT_REQUIRE_S3(url);
  const s3::Url where = s3::parse_url(url);
  testing::FaultProxy proxy(testing::FaultProxy::port_of(where.endpoint.url), 0);
  const std::string via = proxy.s3_url(where.endpoint.bucket, where.prefix, "&lease_seconds=3&request_timeout=2");
  auto c1 = gv({"backup", "--storage", storage_arg(), "--path", url, "--id", "c1"});
  ASSERT_EQ(c1.exit_code, 0) << c1.out << c1.err;
  const std::string git = slow_git(dir_, "1");
  testing::CommandResult c2;
  std::thread backup([&] {
    c2 = gv({"backup", "--storage", storage_arg(), "--path", via, "--id", "c2"}, false, {{"GITVAULT_GIT", git}});
  });
  // c2 holds its lease (seen on the gateway) and is writing.
  s3::Client client(where.endpoint, s3::credentials_from_environment());
  auto c2_leased = [&] {
    for (const auto& o : client.list(where.prefix + "/+gitvault/holders/").objects)
      if (client.get(o.key).value_or("").find("\"detail\":\"c2\"") != std::string::npos) return true;
    return false;
  };
  for (int i = 0; i < 200 && !c2_leased(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (!c2_leased()) {
    backup.join();
    FAIL() << "c2 never took its lease: " << c2.out << c2.err;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  proxy.stall(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));  // past the 3 s lease on the gateway's clock
  auto prune = gv({"prune", "--path", url, "--keep-last", "1"});   // the default lease: c2's own ttl decides
  proxy.stall(false);
  backup.join();
  EXPECT_EQ(prune.exit_code, 0) << prune.out << prune.err;
  EXPECT_NE((prune.out + prune.err).find("from backup c2"), std::string::npos) << prune.out << prune.err;
  EXPECT_NE(c2.exit_code, 0) << c2.out << c2.err;
  EXPECT_NE((c2.out + c2.err).find("lost its lock"), std::string::npos) << c2.out << c2.err;
  auto listed = gv({"backups", "--path", url, "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out.find("\"c2\""), std::string::npos) << "c2 has a record after its lease was lost:\n" << listed.out;
  auto verify = gv({"verify", "--path", url, "--id", "c1"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  auto restore = gv({"restore", "--storage", "default=" + (dir_ / "restored"), "--path", url, "--id", "c1"});
  EXPECT_EQ(restore.exit_code, 0) << restore.out << restore.err;
}

// A lease says how long it lasts: a healthy backup with a 30 s lease (renewed every 10 s) is
// not taken over by a prune whose own setting is 3 s.
TEST_F(LocksAndSecrets, EveryReaderJudgesALeaseByItsOwnTtl) {
  GITVAULT_REQUIRE_S3(url);
  const std::string git = slow_git(dir_, "1");
  testing::CommandResult b;
  std::thread backup([&] {
    b = gv({"backup", "--storage", storage_arg(), "--path", url + "&lease_seconds=30", "--id", "t1"}, false,
           {{"GITVAULT_GIT", git}});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));  // > 3 s since the lease was written
  auto prune = gv({"prune", "--path", url + "&lease_seconds=3", "--keep-last", "1"});
  backup.join();
  EXPECT_EQ(prune.exit_code, 2) << prune.out << prune.err;
  EXPECT_NE(prune.err.find("is in use by backup t1"), std::string::npos) << prune.out << prune.err;
  EXPECT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_NE(b.out.find("t1: complete"), std::string::npos) << b.out;
}

}  // namespace
}  // namespace gitvault
