#include "git/bundle.h"

#include "base/error.h"

namespace gitvault {

std::string format_bundle_header(const BundleHeader& header) {
  std::string out = "# v2 git bundle\n";
  for (const auto& p : header.prerequisites) out += "-" + p + "\n";
  for (const auto& r : header.refs) out += r.oid + " " + r.name + "\n";
  out += "\n";
  return out;
}

BundleHeader read_bundle_header(ByteReader& reader, std::string& pack_start) {
  constexpr std::size_t kMaxHeader = 256u << 20;
  std::string buf;
  std::size_t header_end = std::string::npos;
  char chunk[65536];
  while (header_end == std::string::npos) {
    std::size_t n = reader.read(chunk, sizeof chunk);
    if (n == 0) break;
    std::size_t search_from = buf.size() > 1 ? buf.size() - 1 : 0;
    buf.append(chunk, n);
    if (buf.compare(0, 1, "#") != 0) break;
    std::size_t pos = buf.find("\n\n", search_from);
    if (pos != std::string::npos) header_end = pos + 2;
    if (buf.size() > kMaxHeader) break;
  }
  const std::string& name = reader.name();
  std::string sig_v2 = "# v2 git bundle\n", sig_v3 = "# v3 git bundle\n";
  BundleHeader header;
  if (buf.compare(0, sig_v2.size(), sig_v2) == 0)
    header.version = 2;
  else if (buf.compare(0, sig_v3.size(), sig_v3) == 0)
    header.version = 3;
  else
    throw Error(ErrorCode::Corrupt, name + ": not a git bundle (bad signature)");
  if (header_end == std::string::npos) throw Error(ErrorCode::Corrupt, name + ": truncated bundle header");

  std::size_t pos = sig_v2.size();
  int line_no = 1;
  while (pos < header_end - 1) {
    std::size_t eol = buf.find('\n', pos);
    std::string line = buf.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    auto bad = [&](const std::string& why) {
      return Error(ErrorCode::Corrupt, name + ": bundle header line " + std::to_string(line_no) + ": " + why);
    };
    if (header.version == 3 && !line.empty() && line[0] == '@') {
      if (line.rfind("@object-format=", 0) == 0 && line != "@object-format=sha1")
        throw bad("unsupported object format");
      continue;
    }
    if (!line.empty() && line[0] == '-') {
      std::string oid = line.substr(1, 40);
      if (!is_valid_oid(oid)) throw bad("malformed prerequisite");
      header.prerequisites.push_back(oid);
      continue;
    }
    std::size_t sp = line.find(' ');
    if (sp != 40 || !is_valid_oid(line.substr(0, 40))) throw bad("malformed ref");
    header.refs.push_back({line.substr(0, 40), line.substr(41)});
  }
  pack_start = buf.substr(header_end);
  while (pack_start.size() < 4) {
    std::size_t n = reader.read(chunk, sizeof chunk);
    if (n == 0) break;
    pack_start.append(chunk, n);
  }
  if (pack_start.compare(0, 4, "PACK") != 0)
    throw Error(ErrorCode::Corrupt, name + ": no pack data after the bundle header (truncated?)");
  return header;
}

}  // namespace gitvault
