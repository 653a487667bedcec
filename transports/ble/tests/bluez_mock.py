#!/usr/bin/python3
"""Drives python-dbusmock's bluez5 template on the bus in DBUS_SYSTEM_BUS_ADDRESS for the
BLE transport's mock tier (transports/ble/tests/mock.rs).

    bluez_mock.py adapter NAME                 an adapter, powered
    bluez_mock.py power NAME on|off            switch an adapter
    bluez_mock.py device NAME ADDR UUID KIND   a device advertising UUID; KIND is one of
        peer      serves Thicket's characteristic with a pipe peer that echoes
        nogatt    connects but serves nothing of ours
        stuck     never finishes connecting (the template's own Connect)
    bluez_mock.py advertise NAME ADDR UUID     the device advertises a further UUID
    bluez_mock.py drop NAME ADDR               the device disconnects
    bluez_mock.py log NAME ADDR                what the peer was written, one hex line each
    bluez_mock.py gatt NAME                    the adapter gets a GATT manager (the template
                                               has none), so applications can be served
    bluez_mock.py adverts NAME                 each advertisement registered now, read back
                                               from the process that serves it: one line of
                                               tab-separated KEY=VALUE properties
    bluez_mock.py app NAME                     each registered application's services and
                                               characteristics: "service UUID" and
                                               "characteristic UUID FLAG,FLAG" (flags sorted)
    bluez_mock.py write NAME ADDR HEX          the device ADDR writes HEX to our characteristic

The pipe peer is a second, deliberately small implementation of spec/ble.md#the-pipe:
it answers OPEN, echoes every DATA payload back in DATA frames of at most 100 bytes,
acknowledges every 16 frames, and answers CLOSE with CLOSE.
"""
import sys

import dbus

SERVICE = "06bd5384-5094-4341-8919-b1ca25e7506b"
CHARACTERISTIC = "f31734a9-6a84-46e9-83d1-83a73212f1ce"

bus = dbus.SystemBus()
root = bus.get_object("org.bluez", "/")
mock = dbus.Interface(root, "org.bluez.Mock")
dmock = dbus.Interface(root, "org.freedesktop.DBus.Mock")


def device_path(name, addr):
    return f"/org/bluez/{name}/dev_" + addr.replace(":", "_").upper()


def obj(path, iface="org.freedesktop.DBus.Mock"):
    return dbus.Interface(bus.get_object("org.bluez", path), iface)


# Runs inside the mock for each WriteValue: `self` is the characteristic, args[0] the value.
PEER = r"""
v = bytes(args[0])
self.written = getattr(self, 'written', []) + [v.hex()]
st = getattr(self, 'pipe', None)
out = []
if len(v) == 6 and v[0] == 0:
    self.pipe = st = {'link': v[2:6], 'seq': 0, 'rx': 0, 'acked': 0}
    out.append(bytes([0, 1]) + st['link'])
elif st is not None and len(v) > 2 and v[0] == 1:
    st['rx'] += 1
    payload = v[2:]
    for i in range(0, len(payload), 100):
        out.append(bytes([1, st['seq'] % 256]) + payload[i:i + 100])
        st['seq'] += 1
    if st['rx'] - st['acked'] >= 16:
        st['acked'] = st['rx']
        out.append(bytes([2, st['rx'] % 256]))
elif st is not None and len(v) == 2 and v[0] == 3:
    out.append(bytes([3, st['seq'] % 256]))
for frame in out:
    self.UpdateProperties('org.bluez.GattCharacteristic1',
        {'Value': dbus.Array(list(st['link'] + frame), signature='y')})
"""

CONNECT = (
    "self.UpdateProperties('org.bluez.Device1', {'Connected': dbus.Boolean(True)})\n"
    "self.UpdateProperties('org.bluez.Device1', {'ServicesResolved': dbus.Boolean(True)})"
)
DISCONNECT = (
    "self.UpdateProperties('org.bluez.Device1', "
    "{'ServicesResolved': dbus.Boolean(False), 'Connected': dbus.Boolean(False)})"
)


def announce(path, iface):
    props = obj(path, "org.freedesktop.DBus.Properties").GetAll(iface)
    dmock.EmitSignal(
        "org.freedesktop.DBus.ObjectManager",
        "InterfacesAdded",
        "oa{sa{sv}}",
        [dbus.ObjectPath(path), {iface: props}],
    )


def add_device(name, addr, uuid, kind):
    path = mock.AddDevice(name, addr, "")
    dev = obj(path)
    # Real BlueZ types these as dictionaries, and a device with no name has none.
    dev.UpdateProperties(
        "org.bluez.Device1",
        {
            "UUIDs": dbus.Array([uuid], signature="s"),
            "ManufacturerData": dbus.Dictionary({}, signature="qv"),
            "ServiceData": dbus.Dictionary({}, signature="sv"),
            "AdvertisingData": dbus.Dictionary({}, signature="yv"),
            "AddressType": "random",
        },
    )
    if kind == "stuck":
        return
    dev.AddMethod("org.bluez.Device1", "Connect", "", "", CONNECT)
    dev.AddMethod("org.bluez.Device1", "Disconnect", "", "", DISCONNECT)
    if kind == "nogatt":
        return
    svc = path + "/service000a"
    chr_ = svc + "/char000b"
    dmock.AddObject(
        svc,
        "org.bluez.GattService1",
        {
            "UUID": SERVICE,
            "Primary": True,
            "Device": dbus.ObjectPath(path),
            "Includes": dbus.Array([], signature="o"),
            "Handle": dbus.UInt16(0x0A),
        },
        # One method, so that dbusmock's introspection lists the interface before the
        # child node (bluez-async's XML parser refuses it after).
        [("MockNoop", "", "", "")],
    )
    dmock.AddObject(
        chr_,
        "org.bluez.GattCharacteristic1",
        {
            "UUID": CHARACTERISTIC,
            "Service": dbus.ObjectPath(svc),
            "Value": dbus.Array([], signature="y"),
            "Notifying": False,
            "Handle": dbus.UInt16(0x0B),
            "MTU": dbus.UInt16(517),
            "Flags": dbus.Array(
                ["read", "write", "write-without-response", "notify"], signature="s"
            ),
        },
        [
            ("ReadValue", "a{sv}", "ay", "ret = dbus.Array([1], signature='y')"),
            ("WriteValue", "aya{sv}", "", PEER),
            (
                "StartNotify",
                "",
                "",
                "self.UpdateProperties('org.bluez.GattCharacteristic1', "
                "{'Notifying': dbus.Boolean(True)})",
            ),
            (
                "StopNotify",
                "",
                "",
                "self.UpdateProperties('org.bluez.GattCharacteristic1', "
                "{'Notifying': dbus.Boolean(False)})",
            ),
            ("MockLog", "", "as", "ret = getattr(self, 'written', [])"),
        ],
    )
    announce(svc, "org.bluez.GattService1")
    announce(chr_, "org.bluez.GattCharacteristic1")


GATT_MANAGER = "org.bluez.GattManager1"


def registered(name, register, unregister):
    """Paths registered on the adapter and not unregistered since, from the call log."""
    adapter = obj("/org/bluez/" + name)
    paths = [str(args[0]) for _, args in adapter.GetMethodCalls(register)]
    for _, args in adapter.GetMethodCalls(unregister):
        if str(args[0]) in paths:
            paths.remove(str(args[0]))
    return paths


# Some connections on the bus never answer (a client that dispatches nothing): each is
# asked for at most this many seconds.
PROBE = 1


def serving(path, probe):
    """The bus name whose object at `path` answers `probe`, and the answer; None if
    nobody serves it (any more: an object goes just after its unregistration, which the
    call log may show a moment later than the object is gone)."""
    for name in bus.list_names():
        # Not this script's own connection: a call to itself would wait for a reply
        # it can never give.
        if not name.startswith(":") or name == bus.get_unique_name():
            continue
        try:
            return name, probe(bus.get_object(name, path, introspect=False))
        except dbus.exceptions.DBusException:
            continue
    return None


def show(value):
    if isinstance(value, dbus.Dictionary):
        return ",".join(f"{k}:{show(v)}" for k, v in value.items())
    if isinstance(value, dbus.Array):
        return ",".join(show(v) for v in value)
    return str(value)


def applications(name):
    """(owner, managed objects) of each registered GATT application."""
    found = (
        serving(
            path,
            lambda o: dbus.Interface(o, "org.freedesktop.DBus.ObjectManager").GetManagedObjects(
                timeout=PROBE
            ),
        )
        for path in registered(name, "RegisterApplication", "UnregisterApplication")
    )
    return [f for f in found if f is not None]


def main(argv):
    cmd = argv[1]
    if cmd == "adapter":
        mock.AddAdapter(argv[2], "")
    elif cmd == "power":
        obj("/org/bluez/" + argv[2]).UpdateProperties(
            "org.bluez.Adapter1", {"Powered": dbus.Boolean(argv[3] == "on")}
        )
    elif cmd == "device":
        add_device(argv[2], argv[3], argv[4], argv[5])
    elif cmd == "advertise":
        path = device_path(argv[2], argv[3])
        props = obj(path, "org.freedesktop.DBus.Properties")
        uuids = list(props.Get("org.bluez.Device1", "UUIDs")) + [argv[4]]
        obj(path).UpdateProperties(
            "org.bluez.Device1", {"UUIDs": dbus.Array(uuids, signature="s")}
        )
    elif cmd == "drop":
        obj(device_path(argv[2], argv[3])).UpdateProperties(
            "org.bluez.Device1",
            {"ServicesResolved": dbus.Boolean(False), "Connected": dbus.Boolean(False)},
        )
    elif cmd == "log":
        path = device_path(argv[2], argv[3]) + "/service000a/char000b"
        for line in obj(path, "org.bluez.GattCharacteristic1").MockLog():
            print(line)
    elif cmd == "gatt":
        obj("/org/bluez/" + argv[2]).AddMethods(
            GATT_MANAGER,
            [("RegisterApplication", "oa{sv}", "", ""), ("UnregisterApplication", "o", "", "")],
        )
    elif cmd == "adverts":
        for path in registered(argv[2], "RegisterAdvertisement", "UnregisterAdvertisement"):
            found = serving(
                path,
                lambda o: dbus.Interface(o, "org.freedesktop.DBus.Properties").GetAll(
                    "org.bluez.LEAdvertisement1", timeout=PROBE
                ),
            )
            if found is not None:
                print("\t".join(f"{k}={show(v)}" for k, v in sorted(found[1].items())))
    elif cmd == "app":
        for _, managed in applications(argv[2]):
            for path in sorted(managed):
                ifaces = managed[path]
                if "org.bluez.GattService1" in ifaces:
                    print("service", ifaces["org.bluez.GattService1"]["UUID"])
                if "org.bluez.GattCharacteristic1" in ifaces:
                    c = ifaces["org.bluez.GattCharacteristic1"]
                    print("characteristic", c["UUID"], ",".join(sorted(str(f) for f in c["Flags"])))
    elif cmd == "write":
        for who, managed in applications(argv[2]):
            for path, ifaces in managed.items():
                c = ifaces.get("org.bluez.GattCharacteristic1")
                if c is None or str(c["UUID"]) != CHARACTERISTIC:
                    continue
                chr_ = dbus.Interface(
                    bus.get_object(who, path, introspect=False), "org.bluez.GattCharacteristic1"
                )
                options = {
                    "device": dbus.ObjectPath(device_path(argv[2], argv[3])),
                    "mtu": dbus.UInt16(517),
                    "link": "LE",
                    "type": "command",
                }
                value = dbus.Array(list(bytes.fromhex(argv[4])), signature="y")
                chr_.WriteValue(value, dbus.Dictionary(options, signature="sv"))
                return
        sys.exit("no application serves Thicket's characteristic")
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
