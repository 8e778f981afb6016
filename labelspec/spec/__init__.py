"""labelspec.spec"""
