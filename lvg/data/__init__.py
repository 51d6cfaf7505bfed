"""The data phases, one module each, and the formats they share.

- :mod:`lvg.data.manifest`: dataset manifests (sources, keep-intervals, licence), validated by their schema.
- :mod:`lvg.data.synthetic`, :mod:`lvg.data.synthetic_manifest`: the embedded synthetic world and its manifest.
- :mod:`lvg.data.acquire`: phase 1, yt-dlp / local copy / render, with a provenance record per file.
- :mod:`lvg.data.scenes`: phase 2, PySceneDetect cut lists (and their accuracy on synthetic ground truth).
- :mod:`lvg.data.clips`: phase 3, keep-intervals split at scene cuts.
- :mod:`lvg.data.preprocess`: phase 4, centre crop + Lanczos resize into shards per resolution.
- :mod:`lvg.data.shards`: the reference's sharded-zip frame format (writer and reader).
- :mod:`lvg.data.reader`: training datasets over the shards (clips, LR/HR pairs, a resumable sampler).
- :mod:`lvg.data.audit`: ``lvg audit``, every clip traced to its source and every checksum verified.
- :mod:`lvg.data.video`: every encoded video: probing, decoding, remuxing and writing (one VideoWriter).
"""
