// A node's NAT profile as a person reads it (text with a hint of what it means) and as
// scripts read it (the JSON object docs/CLI.md documents).
#pragma once

#include "dht/base/time.hpp"
#include "overlay/nat_profile.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace ovl::cli {

// What the verdict means for the user, one sentence.
const char* nat_hint(overlay::nat_verdict v);
nlohmann::json nat_json(const overlay::nat_profile& p, duration keepalive);
std::string nat_text(const overlay::nat_profile& p, duration keepalive);

} // namespace ovl::cli
