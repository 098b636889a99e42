"""Test inputs built in code, shared by tests in several folders (pyproject puts tests/ on the path)."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def write_dicom(path, frames, bits=12, photometric="MONOCHROME2", **elements):
    """(F, H, W) unsigned frames -> an XA DICOM at ``path`` (explicit VR little endian)."""
    frames = np.asarray(frames)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.12.1"  # XA image storage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "XA"
    ds.Rows, ds.Columns = frames.shape[1:]
    if len(frames) > 1:
        ds.NumberOfFrames = len(frames)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if bits <= 8 else 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    ds.PixelData = frames.astype(np.uint8 if bits <= 8 else np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return ds


def dicom_declaring(path, rows, columns, frames):
    """An XA DICOM whose header declares frames x rows x columns but holds 4 kB of pixels (a
    declared-size bomb, refused from the header)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.12.1"
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = ds.file_meta.MediaStorageSOPClassUID, "1.2.3.4", "XA"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = bytes(4096)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_video(path, frames=12, size=64, fps=15.0, fourcc="mp4v"):
    """A grey test video of ``frames`` frames (a dark band on the left, brightness rising)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (size, size), isColor=True)
    assert writer.isOpened()
    for index in range(frames):
        frame = np.full((size, size, 3), (40 + 15 * index) % 256, np.uint8)
        frame[:, : size // 4] = 0
        writer.write(frame)
    writer.release()
    return path
