"""Components and locations on our Session, over an in-process server and disk accessors."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from shotbase.client import Session
from shotbase.client.location import (
    ORIGIN_LOCATION_ID,
    SERVER_LOCATION_ID,
    UNMANAGED_LOCATION_ID,
)
from shotbase.errors import (
    AccessorUnsupportedOperationError,
    ComponentInLocationError,
    ComponentNotInLocationError,
    LocationError,
)
from shotbase.storage.accessor.disk import DiskAccessor
from shotbase.storage.structure import IdStructure, StandardStructure
from tests.unit.client.conftest import make_tree


def disk_location(session: Session, root: Path, priority: int = 10) -> Any:
    """A committed location on a disk folder, configured in ``session``."""
    location: Any = session.create("Location", {"name": f"disk.{uuid.uuid4().hex[:8]}"})
    session.commit()
    root.mkdir(parents=True, exist_ok=True)
    location.accessor = DiskAccessor(root)
    location.structure = IdStructure()
    location.priority = priority
    return location


def write_frames(folder: Path, count: int, size: int = 1000) -> dict[int, bytes]:
    """``f.0001.exr`` ... in ``folder`` with random data."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = {frame: os.urandom(size + frame) for frame in range(1, count + 1)}
    for frame, data in frames.items():
        (folder / f"f.{frame:04d}.exr").write_bytes(data)
    return frames


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_builtin_locations_are_configured(session: Session) -> None:
    origin: Any = session.get("Location", ORIGIN_LOCATION_ID)
    unmanaged: Any = session.get("Location", UNMANAGED_LOCATION_ID)
    server: Any = session.get("Location", SERVER_LOCATION_ID)

    assert (origin.priority, unmanaged.priority, server.priority) == (100, 90, 150)
    assert origin.in_memory and not origin.managed and server.managed
    assert session.pick_location() == unmanaged
    assert "priority=150" in repr(server)


def test_file_component_is_transferred_and_registered(
    session: Session, local_path: Path, tmp_path: Path
) -> None:
    location = disk_location(session, tmp_path / "disk")
    source = tmp_path / "plate.exr"
    source.write_bytes(b"x" * 5000)

    component: Any = session.create_component(str(source), {"name": "main"}, location=location)

    assert (component["size"], component["file_type"]) == (5000, ".exr")
    path = Path(location.get_filesystem_path(component))
    assert path.read_bytes() == source.read_bytes() and path.is_relative_to(tmp_path / "disk")
    assert location.get_url(component) == path.as_uri()
    assert session.get_component_availability(component)[location["id"]] == 100.0
    assert component.get_availability([location]) == {location["id"]: 100.0}
    assert session.pick_location(component) == location
    with Session.local(local_path) as fresh:
        again: Any = fresh.get("FileComponent", component["id"])
        assert again["system_type"] == "file"
        assert fresh.get_component_availability(again)[location["id"]] == 100.0


def test_sequence_creates_members_and_copies_every_frame(session: Session, tmp_path: Path) -> None:
    frames = write_frames(tmp_path / "render", 12)
    location = disk_location(session, tmp_path / "disk")
    expression = f"{tmp_path}/render/f.%04d.exr [1-10, 12]"

    sequence: Any = session.create_component(expression, location=location)

    members = sorted(sequence["members"], key=lambda member: member["name"])
    assert sequence.entity_type == "SequenceComponent"
    assert (sequence["padding"], sequence["file_type"]) == (4, ".exr")
    assert [member["name"] for member in members][:2] == ["0001", "0002"]
    assert len(members) == 11 and "0011" not in {member["name"] for member in members}
    assert sequence["size"] == sum(len(data) for frame, data in frames.items() if frame != 11)
    for member in members:
        copied = Path(location.get_filesystem_path(member)).read_bytes()
        assert md5(copied) == md5(frames[int(member["name"])])
    assert location.get_component_availability(sequence) == 100.0
    assert location.get_resource_identifier(sequence).endswith(".%04d.exr")


def test_sequence_availability_is_the_share_of_members_present(
    session: Session, tmp_path: Path
) -> None:
    write_frames(tmp_path / "render", 4)
    location = disk_location(session, tmp_path / "disk")
    sequence: Any = session.create_component(f"{tmp_path}/render/f.%04d.exr [1-4]", location=None)
    session.commit()
    members = sorted(sequence["members"], key=lambda member: member["name"])
    origin: Any = session.get("Location", ORIGIN_LOCATION_ID)

    location.add_components(members[:3], origin)

    assert location.get_component_availability(sequence) == 75.0
    assert session.pick_locations([sequence, members[3]]) == [location, None]


def test_adding_twice_is_refused_without_touching_data(session: Session, tmp_path: Path) -> None:
    location = disk_location(session, tmp_path / "disk")
    source = tmp_path / "a.txt"
    source.write_bytes(b"hello")
    component: Any = session.create_component(str(source), location=location)
    origin: Any = session.get("Location", ORIGIN_LOCATION_ID)

    with pytest.raises(ComponentInLocationError) as caught:
        location.add_component(component, origin)

    assert caught.value.details["components"] == [component]
    assert Path(location.get_filesystem_path(component)).read_bytes() == b"hello"


def test_failed_transfer_removes_what_it_wrote_and_registers_nothing(
    session: Session, tmp_path: Path
) -> None:
    write_frames(tmp_path / "render", 3)
    root = tmp_path / "disk"
    location = disk_location(session, root)
    sequence: Any = session.create_component(f"{tmp_path}/render/f.%04d.exr [1-3]", location=None)
    session.commit()
    members = sorted(sequence["members"], key=lambda member: member["name"])
    blocker = root / IdStructure().get_resource_identifier(members[2])
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"someone else's data")
    origin: Any = session.get("Location", ORIGIN_LOCATION_ID)

    with pytest.raises(LocationError, match="data already exists"):
        location.add_component(sequence, origin)

    files = [path for path in root.rglob("*") if path.is_file()]
    assert files == [blocker] and blocker.read_bytes() == b"someone else's data"
    assert location.get_component_availability(sequence) == 0.0


def test_missing_source_file_fails_clearly(session: Session, tmp_path: Path) -> None:
    location = disk_location(session, tmp_path / "disk")

    with pytest.raises(LocationError, match="No such file"):
        session.create_component(str(tmp_path / "missing.exr"), location=location)

    assert not [path for path in (tmp_path / "disk").rglob("*") if path.is_file()]


def test_location_without_structure_or_accessor_is_refused(
    session: Session, tmp_path: Path
) -> None:
    bare: Any = session.create("Location", {"name": f"bare.{uuid.uuid4().hex[:8]}"})
    session.commit()
    source = tmp_path / "a.txt"
    source.write_bytes(b"a")
    component: Any = session.create_component(str(source), location=None)
    origin: Any = session.get("Location", ORIGIN_LOCATION_ID)

    with pytest.raises(LocationError, match="No structure"):
        bare.add_component(component, origin)
    bare.structure = IdStructure()
    with pytest.raises(LocationError, match="No accessor"):
        bare.add_component(component, origin)
    assert bare not in session._accessible_locations()


def test_remove_deletes_data_and_registration(session: Session, tmp_path: Path) -> None:
    write_frames(tmp_path / "render", 3)
    location = disk_location(session, tmp_path / "disk")
    sequence: Any = session.create_component(
        f"{tmp_path}/render/f.%04d.exr [1-3]", location=location
    )

    location.remove_component(sequence)

    assert not [path for path in (tmp_path / "disk").rglob("*") if path.is_file()]
    assert location.get_component_availability(sequence) == 0.0
    with pytest.raises(ComponentNotInLocationError):
        location.get_resource_identifier(sequence)
    with pytest.raises(ComponentNotInLocationError):
        location.remove_component(sequence)


def test_container_component_gets_a_folder(session: Session, tmp_path: Path) -> None:
    location = disk_location(session, tmp_path / "disk")
    container: Any = session.create("ContainerComponent", {"name": "bundle"})
    origin: Any = session.get("Location", ORIGIN_LOCATION_ID)
    origin.add_component(container, str(tmp_path), recursive=False)
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(name)
        member: Any = session.create_component(
            str(tmp_path / name), {"name": name, "container": container}, location=None
        )
        container["members"].append(member)

    location.add_component(container, origin)

    folder = Path(location.get_filesystem_path(container))
    assert folder.is_dir()
    assert sorted(path.read_text() for path in folder.iterdir()) == ["a.txt", "b.txt"]
    assert location.get_component_availability(container) == 100.0


def test_version_component_uses_the_standard_structure(session: Session, tmp_path: Path) -> None:
    project, _, shot, task = make_tree(session)
    asset: Any = session.create("Asset", {"name": "plate", "parent": shot})
    version: Any = session.create("AssetVersion", {"asset": asset, "task": task})
    session.commit()
    location = disk_location(session, tmp_path / "disk")
    location.structure = StandardStructure()
    source = tmp_path / "plate.exr"
    source.write_bytes(b"pixels")

    component: Any = version.create_component(str(source), {"name": "main"}, location=location)

    identifier = location.get_resource_identifier(component)
    assert identifier.startswith(project["name"].lower() + "/sq01/sh010/")
    assert identifier.endswith("/v001/main.exr")
    assert component["version"] == version


def test_server_location_round_trip(session: Session, tmp_path: Path) -> None:
    data = os.urandom(9 * 1024 * 1024 + 3)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    server: Any = session.get("Location", SERVER_LOCATION_ID)

    component: Any = session.create_component(str(source), location=server)

    assert server.get_component_availability(component) == 100.0
    identifier = server.get_resource_identifier(component)
    assert identifier == component["id"] and server.accessor.exists(identifier)
    with server.accessor.open(identifier, "rb") as handle:
        assert md5(handle.read()) == md5(data)
    assert "/component/get?id=" in server.get_url(component)
    assert "size=64" in server.get_thumbnail_url(component, 64)
    with pytest.raises(AccessorUnsupportedOperationError):
        server.get_filesystem_path(component)
    server.remove_component(component)
    assert not server.accessor.exists(identifier)


def test_transfer_from_disk_to_the_server_and_back(session: Session, tmp_path: Path) -> None:
    frames = write_frames(tmp_path / "render", 5)
    first = disk_location(session, tmp_path / "first")
    second = disk_location(session, tmp_path / "second")
    server: Any = session.get("Location", SERVER_LOCATION_ID)
    sequence: Any = session.create_component(f"{tmp_path}/render/f.%04d.exr [1-5]", location=first)

    server.add_component(sequence, first)
    second.add_component(sequence, server)

    for location in (first, second, server):
        assert location.get_component_availability(sequence) == 100.0
    for member in sequence["members"]:
        copied = Path(second.get_filesystem_path(member)).read_bytes()
        assert md5(copied) == md5(frames[int(member["name"])])


def test_create_thumbnail_uploads_to_the_server(session: Session, tmp_path: Path) -> None:
    _, _, shot, _ = make_tree(session)
    image = tmp_path / "thumb.png"
    image.write_bytes(b"\x89PNG fake but bytes")

    component = shot.create_thumbnail(str(image))

    assert component["name"] == "thumbnail"
    again: Any = session.get("Shot", shot["id"])
    assert again["thumbnail_id"] == component["id"]
    server: Any = session.get("Location", SERVER_LOCATION_ID)
    assert server.get_component_availability(component) == 100.0


def test_review_names_go_to_the_review_location(session: Session, tmp_path: Path) -> None:
    movie = tmp_path / "review.mp4"
    movie.write_bytes(b"mp4")

    component: Any = session.create_component(str(movie), {"name": "ftrackreview-mp4"})

    review: Any = session.query('Location where name is "ftrack.review"').one()
    assert review.get_resource_identifier(component) == str(movie)


def test_plugins_configure_locations_and_file_types(local_path: Path, tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "studio_disk.py").write_text(
        f"""
from shotbase.storage.accessor.disk import DiskAccessor
from shotbase.storage.structure import IdStructure

def configure(event):
    session = event["data"]["session"]
    location: Any = session.ensure("Location", {{"name": "plugin.disk"}})
    location.accessor = DiskAccessor({str(tmp_path / "plugin-disk")!r})
    location.structure = IdStructure()
    location.priority = 1

def file_type(event):
    return "image/exr" if event["data"]["file_path"].endswith(".exr") else None

def register(session):
    session.event_hub.subscribe("topic=ftrack.api.session.configure-location", configure)
    session.event_hub.subscribe("topic=ftrack.api.session.get-file-type-from-string", file_type)
"""
    )
    (tmp_path / "plugin-disk").mkdir()
    source = tmp_path / "a.exr"
    source.write_bytes(b"exr")

    with Session.local(local_path, plugin_paths=[str(plugins)]) as session:
        picked = session.pick_location()
        component: Any = session.create_component(str(source))

        assert picked["name"] == "plugin.disk"
        assert component["file_type"] == "image/exr"
        assert Path(picked.get_filesystem_path(component)).read_bytes() == b"exr"


def test_auto_location_records_the_path_in_unmanaged(session: Session, tmp_path: Path) -> None:
    source = tmp_path / "edit.mov"
    source.write_bytes(b"mov")

    component = session.create_component(str(source))

    unmanaged: Any = session.get("Location", UNMANAGED_LOCATION_ID)
    assert unmanaged.get_filesystem_path(component) == str(source)
    assert session.pick_location(component) == unmanaged
    unmanaged.remove_component(component)
    assert source.read_bytes() == b"mov"  # unmanaged: the data is not the location's


class Prefixed:
    """A resource identifier transformer storing identifiers with a site prefix."""

    def encode(self, identifier: str, context: Any = None) -> str:
        return "site-a:" + identifier

    def decode(self, identifier: str, context: Any = None) -> str:
        return identifier.removeprefix("site-a:")


def test_resource_identifier_transformer_encodes_what_is_stored(
    session: Session, tmp_path: Path
) -> None:
    location = disk_location(session, tmp_path / "disk")
    location.resource_identifier_transformer = Prefixed()
    source = tmp_path / "a.txt"
    source.write_bytes(b"a")

    component = session.create_component(str(source), location=location)

    stored = session.query(
        "select resource_identifier from ComponentLocation"
        f' where component_id is "{component["id"]}" and location_id is "{location["id"]}"'
    ).one()
    identifier = location.get_resource_identifier(component)
    assert stored["resource_identifier"] == "site-a:" + identifier
    assert Path(location.get_filesystem_path(component)).read_bytes() == b"a"


def test_failed_batch_copy_leaves_no_files(session: Session, tmp_path: Path) -> None:
    write_frames(tmp_path / "render", 5)
    root = tmp_path / "disk"
    location = disk_location(session, root)
    sequence: Any = session.create_component(f"{tmp_path}/render/f.%04d.exr [1-5]", location=None)
    (tmp_path / "render" / "f.0004.exr").unlink()
    origin: Any = session.get("Location", ORIGIN_LOCATION_ID)

    with pytest.raises(LocationError, match=r"f\.0004\.exr"):
        location.add_component(sequence, origin)

    assert not [path for path in root.rglob("*") if path.is_file()]
    assert location.get_component_availability(sequence) == 0.0


class ClosingAccessor(DiskAccessor):
    """A disk accessor that counts how often it is closed (an SFTP accessor drops its
    connection there)."""

    closed_count = 0

    def close(self) -> None:
        type(self).closed_count += 1


class FailingAccessor(DiskAccessor):
    def close(self) -> None:
        raise OSError("connection already gone")


def test_closing_the_session_closes_each_accessor_once(local_path: Path, tmp_path: Path) -> None:
    shared = ClosingAccessor(tmp_path / "shared")
    with Session.local(local_path) as session:
        first, second = (
            disk_location(session, tmp_path / "a"),
            disk_location(session, tmp_path / "b"),
        )
        third = disk_location(session, tmp_path / "c")
        first.accessor = second.accessor = shared
        third.accessor = FailingAccessor(tmp_path / "c")  # its failure stops nothing
    assert ClosingAccessor.closed_count == 1
    assert session.closed
