Bdefault_layercam_rawJ ‚ƒ
@àSé?l„7@<n&@Î×â?|ªÈ?åĞã?Y-@?