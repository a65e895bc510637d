"""The embedded DNS's name table and answers, without a kernel: plain data in, wire format out."""

from dnslib import QTYPE, RCODE, DNSRecord

from cnmlab.dns.names import NameTable, ptr_address
from cnmlab.dns.server import build_reply


def table() -> NameTable:
    names = NameTable()
    names.add("A", "net-a", "ep-aa", ["aa", "1111aaaa2222"], ["10.77.1.2"], ptr_name="aa")
    names.add("A", "net-a", "ep-bb", ["bb", "shared"], ["10.77.1.3"], ptr_name="bb")
    names.add("A", "net-a", "ep-s2", ["s2", "shared"], ["10.77.1.4"], ptr_name="s2")
    names.add("B", "net-b", "ep-cc", ["cc"], ["10.77.2.2"], ptr_name="cc")
    names.attach("aa", "A")
    names.attach("cc", "B")
    return names


def answer(names, sandbox, name, qtype="A") -> DNSRecord:
    data, event = build_reply(names, sandbox, DNSRecord.question(name, qtype).pack())
    reply = DNSRecord.parse(data)
    assert event.container == sandbox and event.rcode == RCODE.get(reply.header.rcode)
    return reply


def test_names_resolve_only_on_shared_networks():
    names = table()
    assert names.resolve("aa", "bb").addresses == ["10.77.1.3"]
    assert not names.resolve("aa", "cc").found
    assert not names.resolve("cc", "bb").found
    assert not names.resolve("nobody", "bb").found


def test_name_case_is_ignored_but_the_network_suffix_is_exact():
    names = table()
    assert names.resolve("aa", "BB").found and names.resolve("aa", "bb.net-a.").found
    assert names.resolve("aa", "Bb.net-a").found
    assert not names.resolve("aa", "BB.NET-A").found
    assert not names.resolve("aa", "bb.net-b").found, "a suffix names one of the asker's networks"


def test_a_shared_alias_returns_every_address_shuffled():
    names = table()
    orders = {tuple(names.resolve("aa", "shared").addresses) for _ in range(100)}
    assert orders == {("10.77.1.3", "10.77.1.4"), ("10.77.1.4", "10.77.1.3")}


def test_remove_and_replace_by_owner():
    names = table()
    names.remove("ep-bb")
    assert not names.resolve("aa", "bb").found
    assert names.resolve("aa", "shared").addresses == ["10.77.1.4"]
    assert not names.reverse("aa", "3.1.77.10.in-addr.arpa").found
    names.add("A", "net-a", "ep-s2", ["s2"], ["10.77.1.9"])
    assert not names.resolve("aa", "shared").found and names.resolve("aa", "s2").addresses == ["10.77.1.9"]
    names.detach("aa", "A")
    assert not names.resolve("aa", "aa").found


def test_replies_are_dockers_shape():
    names = table()
    a = answer(names, "aa", "bb")
    assert a.header.bitmap == 0x8180, "QR, RD echoed, RA; not authoritative"
    assert [(str(rr.rdata), rr.ttl) for rr in a.rr] == [("10.77.1.3", 600)]
    aaaa = answer(names, "aa", "bb", "AAAA")
    assert aaaa.header.rcode == RCODE.NOERROR and aaaa.rr == []
    assert answer(names, "aa", "example.com").header.rcode == RCODE.NXDOMAIN
    assert answer(names, "aa", "cc").header.rcode == RCODE.NXDOMAIN
    ptr = answer(names, "aa", "3.1.77.10.in-addr.arpa", "PTR")
    assert ptr.rr[0].rtype == QTYPE.PTR and str(ptr.rr[0].rdata) == "bb.net-a."
    assert answer(names, "aa", "2.2.77.10.in-addr.arpa", "PTR").header.rcode == RCODE.NXDOMAIN


def test_garbage_gets_no_reply():
    assert build_reply(table(), "aa", b"\x00\x01garbage") == (None, None)
    reply = DNSRecord.question("bb").reply()
    assert build_reply(table(), "aa", reply.pack()) == (None, None), "answers are not queries"


def test_ptr_address():
    assert ptr_address("4.3.2.1.in-addr.arpa.") == "1.2.3.4"
    assert ptr_address("1.in-addr.arpa") is None and ptr_address("x.3.2.1.in-addr.arpa") is None


def test_detaching_a_sandbox_drops_its_records_even_without_a_leave():
    names = table()
    names.add("A", "net-a", "ep-half", ["half"], ["10.77.1.9"], ptr_name="half", sandbox="half")
    assert names.resolve("aa", "half").found
    names.detach("half")  # a join that failed after the record was made: the sandbox goes
    assert not names.resolve("aa", "half").found
    assert not names.reverse("aa", "9.1.77.10.in-addr.arpa").found
