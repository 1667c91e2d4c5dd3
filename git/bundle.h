// Git bundle headers (v2, and v3 with sha1), written and parsed here; the pack that
// follows the header is produced by `git pack-objects` and consumed by `git index-pack`.
#pragma once

#include <string>
#include <vector>

#include "base/byte_reader.h"
#include "git/refs.h"

namespace gitvault {

struct BundleHeader {
  int version = 2;
  std::vector<std::string> prerequisites;  // oids the pack's objects may depend on
  std::vector<RefEntry> refs;              // as listed, HEAD included when present
};

// "# v2 git bundle\n", "-<oid>\n" per prerequisite, "<oid> <ref>\n" per ref, "\n".
std::string format_bundle_header(const BundleHeader& header);

// Reads and validates the header. Bytes read past it (the start of the pack) are returned
// in `pack_start`. Throws Error(Corrupt) naming the source when it is not a bundle or is
// truncated.
BundleHeader read_bundle_header(ByteReader& reader, std::string& pack_start);

}  // namespace gitvault
