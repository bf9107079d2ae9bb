"""The portal shell: layout and home page every portal user lands on."""
