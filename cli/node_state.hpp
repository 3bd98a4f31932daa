// What overlay-node remembers across restarts: the routing-table nodes (and, for
// older versions, its node id; the id now derives from the key and is not reused),
// bencoded in one file that is replaced atomically (temp file + rename).
#pragma once

#include "dht/base/log.hpp"
#include "dht/messages.hpp"
#include "dht/node_id.hpp"

#include <filesystem>
#include <optional>
#include <vector>

namespace ovl::cli {

struct node_state {
    dht::node_id id;
    std::vector<dht::contact> nodes;
};

// The state file inside a state directory.
std::filesystem::path state_file(const std::filesystem::path& dir);

// nullopt when there is no file yet, or when it is unreadable or corrupt (logged as a
// warning: the caller starts fresh).
std::optional<node_state> load_node_state(const std::filesystem::path& file, spdlog::logger& log);

// Writes the state atomically; false (logged) on I/O errors. Only IPv4 nodes are kept.
bool save_node_state(const std::filesystem::path& file, const node_state& state, spdlog::logger& log);

} // namespace ovl::cli
