"""The data phase: manifests, acquisition, scene cuts, clips, preprocessing, the training reader, audit."""
