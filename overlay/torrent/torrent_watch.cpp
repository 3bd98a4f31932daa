#include "overlay/torrent/torrent_watch.hpp"

#include "overlay/torrent/lt_endpoint.hpp"
#include "overlay/torrent/plugin_impl.hpp"

#include <libtorrent/error_code.hpp>
#include <libtorrent/peer_info.hpp>

namespace ovl::torrent {

torrent_watch::torrent_watch(std::weak_ptr<overlay_plugin::impl> owner, std::string rdv)
    : owner_(std::move(owner)), rdv_(std::move(rdv)) {}

torrent_watch::~torrent_watch() {
    if (auto o = owner_.lock()) o->remove_torrent(rdv_);
}

std::shared_ptr<lt::peer_plugin> torrent_watch::new_connection(const lt::peer_connection_handle& pc) {
    std::erase_if(outgoing_, [](const lt::peer_connection_handle& h) { return h.native_handle() == nullptr; });
    if (pc.is_outgoing())
        outgoing_.push_back(pc);
    else
        drop_stalled_attempts(pc);
    return std::make_shared<peer_watch>(owner_, pc);
}

// libtorrent keeps one connection per peer address. Before a punch it has often started
// an attempt of its own to the peer's public endpoint, learnt from the DHT: a uTP SYN the
// peer's NAT dropped, then a TCP SYN left waiting 15 s for its timeout. When the punched
// connection from that peer arrives, libtorrent keeps one of the two by comparing listen
// ports, at random when they are equal, and so may close the punched one. An attempt that
// is still connecting once the peer's own connection is here cannot be the one the peer
// keeps (the peer has not seen it), so it goes first. libtorrent calls this before it adds
// the incoming connection to its peer list.
void torrent_watch::drop_stalled_attempts(const lt::peer_connection_handle& incoming) {
    auto o = owner_.lock();
    const auto from = incoming.remote().address();
    if (!o || !o->punching(from_lt(from))) return;
    for (auto& h : outgoing_) {
        if (h.remote().address() != from || !h.is_connecting() || h.is_disconnecting()) continue;
        o->log->info("overlay plugin: the punched connection from {} replaces our attempt still connecting to {}",
                     from_lt(incoming.remote()).to_string(), from_lt(h.remote()).to_string());
        h.disconnect(lt::errors::duplicate_peer_id, lt::operation_t::connect);
    }
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
