// overlay-torrent seed: makes a trackerless torrent of a file or directory, writes the
// .torrent, and seeds it (the overlay lets firewalled leechers reach us).
#include "examples/overlay_torrent/commands.hpp"

#include <libtorrent/alert_types.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/torrent_info.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace ovl::examples {

namespace {
void print_json(const nlohmann::json& j) { std::cout << j.dump() << std::endl; }
} // namespace

int run_seed(const session_options& s, const seed_options& o) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto path = fs::absolute(o.path, ec);
    if (ec || !fs::exists(path)) {
        std::cerr << "overlay-torrent seed: " << o.path << ": no such file or directory\n";
        return 1;
    }
    lt::file_storage files;
    lt::add_files(files, path.string());
    if (files.num_files() == 0) {
        std::cerr << "overlay-torrent seed: " << o.path << ": nothing to seed (empty)\n";
        return 1;
    }
    lt::create_torrent ct(files);
    ct.set_creator("overlay-torrent");
    for (const auto& b : s.bootstrap) {
        const auto colon = b.rfind(':');
        ct.add_node({b.substr(0, colon), std::stoi(b.substr(colon + 1))});
    }
    lt::error_code lec;
    lt::set_piece_hashes(ct, path.parent_path().string(), lec);
    if (lec) {
        std::cerr << "overlay-torrent seed: hashing " << o.path << ": " << lec.message() << "\n";
        return 1;
    }
    std::vector<char> encoded;
    lt::bencode(std::back_inserter(encoded), ct.generate());
    {
        std::ofstream out(o.out, std::ios::binary);
        out.write(encoded.data(), static_cast<std::streamsize>(encoded.size()));
        if (!out) {
            std::cerr << "overlay-torrent seed: cannot write " << o.out << "\n";
            return 1;
        }
    }
    auto info = std::make_shared<lt::torrent_info>(encoded, lt::from_span);
    std::ostringstream hex;
    hex << info->info_hashes().get_best();
    const auto info_hash = hex.str();

    torrent_session ts(s);
    lt::add_torrent_params atp;
    atp.ti = info;
    atp.save_path = path.parent_path().string();
    atp.flags |= lt::torrent_flags::seed_mode;
    auto handle = ts.session().add_torrent(std::move(atp));
    const auto id = ts.overlay() ? ts.overlay()->peer_id() : std::string("(overlay off)");
    if (o.json)
        print_json({{"event", "seeding"}, {"torrent", o.out}, {"info_hash", info_hash}, {"peer_id", id},
                    {"bytes", files.total_size()}, {"pieces", static_cast<int>(info->num_pieces())}});
    else
        std::cout << "seeding " << o.path << " (" << files.total_size() << " bytes, " << info->num_pieces()
                  << " pieces)\n  torrent: " << o.out << "\n  info-hash: " << info_hash << "\n  overlay peer id: " << id
                  << std::endl;

    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (o.seconds) deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(*o.seconds));
    std::size_t reported = 0;
    ts.run(
        [&](const lt::alert& a) {
            // Announce once the DHT can carry it, rather than at libtorrent's next round
            // (up to dht_announce_interval, 15 min, away).
            if (lt::alert_cast<lt::dht_bootstrap_alert>(&a)) {
                handle.force_dht_announce();
                if (o.json)
                    print_json({{"event", "dht-announcing"}});
                else
                    std::cout << "DHT joined: announcing" << std::endl;
            }
            return true;
        },
           [&] {
               if (!ts.overlay()) return;
               const auto paths = ts.overlay()->paths();
               for (; reported < paths.size(); ++reported) {
                   const auto& p = paths[reported];
                   if (o.json)
                       print_json({{"event", "peer"}, {"peer_id", p.peer_id}, {"path", to_string(p.state)}});
                   else
                       std::cout << "overlay peer " << p.peer_id.substr(0, 16) << ": " << to_string(p.state) << std::endl;
               }
           },
           deadline);
    if (!o.json) std::cout << "stopped seeding" << std::endl;
    return 0;
}

} // namespace ovl::examples
