#include "dht/peer_store.hpp"

#include <algorithm>

namespace ovl::dht {

peer_store::peer_store(peer_store_limits limits) : limits_(limits) {}

store_result peer_store::announce(timestamp now, const node_id& info_hash, const endpoint& peer) {
    auto it = torrents_.find(info_hash);
    if (it == torrents_.end()) {
        if (torrents_.size() >= limits_.max_torrents || total_peers_ >= limits_.max_peers) return store_result::full;
        it = torrents_.emplace(info_hash, std::vector<stored_peer>{}).first;
    }
    auto& list = it->second;
    const timestamp expires = now + limits_.peer_lifetime;
    for (auto& p : list) {
        if (p.ep == peer) {
            p.expires = expires;
            return store_result::refreshed;
        }
    }
    if (list.size() >= limits_.max_peers_per_torrent) {
        auto oldest = std::min_element(list.begin(), list.end(),
                                       [](const stored_peer& a, const stored_peer& b) { return a.expires < b.expires; });
        *oldest = {peer, expires};
        return store_result::stored;
    }
    if (total_peers_ >= limits_.max_peers) return store_result::full;
    list.push_back({peer, expires});
    ++total_peers_;
    return store_result::stored;
}

std::vector<endpoint> peer_store::peers(timestamp now, const node_id& info_hash, std::size_t max,
                                        random_source& rng, std::optional<ip_family> family) const {
    std::vector<endpoint> out;
    auto it = torrents_.find(info_hash);
    if (it == torrents_.end()) return out;
    for (const auto& p : it->second)
        if (p.expires > now && (!family || p.ep.address.family() == *family)) out.push_back(p.ep);
    if (out.size() > max) {
        // Partial Fisher-Yates: a random subset, so every peer gets handed out.
        for (std::size_t i = 0; i < max; ++i) std::swap(out[i], out[i + rng.uniform(out.size() - i)]);
        out.resize(max);
    }
    return out;
}

void peer_store::expire(timestamp now) {
    for (auto it = torrents_.begin(); it != torrents_.end();) {
        auto& list = it->second;
        auto before = list.size();
        std::erase_if(list, [&](const stored_peer& p) { return p.expires <= now; });
        total_peers_ -= before - list.size();
        if (list.empty())
            it = torrents_.erase(it);
        else
            ++it;
    }
}

std::size_t peer_store::memory_bytes() const {
    std::size_t bytes = torrents_.bucket_count() * sizeof(void*);
    for (const auto& [hash, list] : torrents_) {
        // One hash node per torrent (key, vector header, next pointer) plus the peers.
        bytes += sizeof(hash) + sizeof(list) + sizeof(void*) + list.capacity() * sizeof(stored_peer);
    }
    return bytes;
}

} // namespace ovl::dht
