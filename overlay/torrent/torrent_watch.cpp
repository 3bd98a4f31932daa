#include "overlay/torrent/torrent_watch.hpp"

#include "overlay/torrent/plugin_impl.hpp"

#include <libtorrent/peer_info.hpp>

namespace ovl::torrent {

torrent_watch::torrent_watch(std::weak_ptr<overlay_plugin::impl> owner, std::string rdv)
    : owner_(std::move(owner)), rdv_(std::move(rdv)) {}

torrent_watch::~torrent_watch() {
    if (auto o = owner_.lock()) o->remove_torrent(rdv_);
}

std::shared_ptr<lt::peer_plugin> torrent_watch::new_connection(const lt::peer_connection_handle& pc) {
    return std::make_shared<peer_watch>(owner_, pc);
}

peer_watch::peer_watch(std::weak_ptr<overlay_plugin::impl> owner, lt::peer_connection_handle pc)
    : owner_(std::move(owner)), pc_(std::move(pc)) {}

bool peer_watch::on_handshake(lt::span<char const>) {
    if (auto o = owner_.lock()) {
        lt::peer_info info;
        pc_.get_peer_info(info);
        o->on_handshake(timestamp_from_steady(std::chrono::steady_clock::now()), pc_.remote(),
                        bool(info.flags & lt::peer_info::utp_socket));
    }
    return true;
}

} // namespace ovl::torrent
