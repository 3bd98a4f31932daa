#include "cli/node_state.hpp"

#include "dht/bencode/decode.hpp"
#include "dht/bencode/encode.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fcntl.h>
#include <unistd.h>

namespace ovl::cli {

namespace {
constexpr std::int64_t format_version = 1;
// A routing table rarely holds more than a few hundred nodes; this bounds the file.
constexpr std::size_t max_saved_nodes = 2000;
constexpr std::size_t max_file_size = 1 << 20;

bool write_all(int fd, const std::vector<std::uint8_t>& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        auto n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}
} // namespace

std::filesystem::path state_file(const std::filesystem::path& dir) { return dir / "node.state"; }

std::optional<node_state> load_node_state(const std::filesystem::path& file, spdlog::logger& log) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return std::nullopt;
    auto size = std::filesystem::file_size(file, ec);
    if (ec || size > max_file_size) {
        log.warn("ignoring state file {}: {}; starting without saved nodes", file.string(),
                 ec ? ec.message() : "too large");
        return std::nullopt;
    }
    std::ifstream in(file, std::ios::binary);
    std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.eof() && in.fail()) {
        log.warn("ignoring state file {}: cannot read it; starting without saved nodes", file.string());
        return std::nullopt;
    }
    std::string error;
    bencode::decode_limits limits;
    limits.max_input = max_file_size;
    auto decoded = bencode::decode(data, &error, limits);
    const auto* root = decoded ? decoded->as_dict() : nullptr;
    const auto* version = root ? bencode::find_int(*root, "version") : nullptr;
    auto id = root ? dht::read_id(*root, "id") : std::nullopt;
    if (!root || !id || !version || *version != format_version) {
        log.warn("ignoring corrupt state file {} ({}); starting without saved nodes", file.string(),
                 !decoded ? error : "missing id or unknown version");
        return std::nullopt;
    }
    node_state state{*id, dht::decode_nodes(*root)};
    if (state.nodes.size() > max_saved_nodes) state.nodes.resize(max_saved_nodes);
    return state;
}

bool save_node_state(const std::filesystem::path& file, const node_state& state, spdlog::logger& log) {
    std::vector<dht::contact> v4;
    for (const auto& c : state.nodes)
        if (c.ep.address.is_v4() && v4.size() < max_saved_nodes) v4.push_back(c);
    bencode::dict root{{"version", format_version}, {"id", state.id.to_bytes()}, {"nodes", dht::encode_nodes(v4)}};
    const auto data = bencode::encode(root);

    // Write, fsync and rename, so a crash leaves either the old file or the new one.
    auto temp = file;
    temp += ".tmp";
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        log.warn("cannot save state to {}: {}", temp.string(), std::strerror(errno));
        return false;
    }
    bool ok = write_all(fd, data) && ::fsync(fd) == 0;
    const int saved_errno = errno;
    ::close(fd);
    if (!ok || std::rename(temp.c_str(), file.c_str()) != 0) {
        log.warn("cannot save state to {}: {}", file.string(), std::strerror(ok ? errno : saved_errno));
        std::error_code ignored;
        std::filesystem::remove(temp, ignored);
        return false;
    }
    log.debug("saved node id and {} nodes to {}", v4.size(), file.string());
    return true;
}

} // namespace ovl::cli
