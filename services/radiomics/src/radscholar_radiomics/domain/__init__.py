"""Radiomics science as pure code: settings, presets, extraction. No grpc, Ray or object-store client."""
