// libFuzzer target: a contact record as it comes out of the DHT (BEP 44 `v` of a mutable
// item anyone can write): bencode, then the record's own fields. A record that decodes
// must encode back to something that decodes to the same record.
#include "dht/bencode/decode.hpp"
#include "overlay/contact_record.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ovl;
    const auto v = bencode::decode({data, size});
    if (!v) return 0;
    const auto record = overlay::contact_record::decode(*v);
    if (!record) return 0;
    const auto again = overlay::contact_record::decode(record->encode());
    if (!again || again->encode() != record->encode()) std::abort();
    return 0;
}
