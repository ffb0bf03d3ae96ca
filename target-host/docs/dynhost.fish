# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_dynhost_global_optspecs
    string join \n c/config= dry-run v/verbose q/quiet h/help V/version
end

function __fish_dynhost_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_dynhost_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_dynhost_using_subcommand
    set -l cmd (__fish_dynhost_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c dynhost -n "__fish_dynhost_needs_command" -s c -l config -d 'Config file' -r -F
complete -c dynhost -n "__fish_dynhost_needs_command" -l dry-run -d 'Decide and log the exact request that would be sent (password redacted); send nothing and write no state'
complete -c dynhost -n "__fish_dynhost_needs_command" -s v -l verbose -d 'More log output (-v debug, -vv trace). Overrides DYNHOST_LOG'
complete -c dynhost -n "__fish_dynhost_needs_command" -s q -l quiet -d 'Less log output (-q warnings, -qq errors). Overrides DYNHOST_LOG'
complete -c dynhost -n "__fish_dynhost_needs_command" -s h -l help -d 'Print help'
complete -c dynhost -n "__fish_dynhost_needs_command" -s V -l version -d 'Print version'
complete -c dynhost -n "__fish_dynhost_needs_command" -f -a "run" -d 'Run the daemon in the foreground, logging to stderr'
complete -c dynhost -n "__fish_dynhost_needs_command" -f -a "update" -d 'One update round now, then exit (for hooks and cron)'
complete -c dynhost -n "__fish_dynhost_needs_command" -f -a "check" -d 'Validate the config and print the effective settings, secrets redacted'
complete -c dynhost -n "__fish_dynhost_needs_command" -f -a "status" -d 'Show what was last published, per record and family'
complete -c dynhost -n "__fish_dynhost_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c dynhost -n "__fish_dynhost_using_subcommand run" -s c -l config -d 'Config file' -r -F
complete -c dynhost -n "__fish_dynhost_using_subcommand run" -l dry-run -d 'Decide and log the exact request that would be sent (password redacted); send nothing and write no state'
complete -c dynhost -n "__fish_dynhost_using_subcommand run" -s v -l verbose -d 'More log output (-v debug, -vv trace). Overrides DYNHOST_LOG'
complete -c dynhost -n "__fish_dynhost_using_subcommand run" -s q -l quiet -d 'Less log output (-q warnings, -qq errors). Overrides DYNHOST_LOG'
complete -c dynhost -n "__fish_dynhost_using_subcommand run" -s h -l help -d 'Print help'
complete -c dynhost -n "__fish_dynhost_using_subcommand update" -s i -l interface -d 'Only the records that follow this interface' -r
complete -c dynhost -n "__fish_dynhost_using_subcommand update" -l ip -d 'Publish this address instead of reading the interface (must be a global address)' -r
complete -c dynhost -n "__fish_dynhost_using_subcommand update" -s c -l config -d 'Config file' -r -F
complete -c dynhost -n "__fish_dynhost_using_subcommand update" -l force -d 'Send even when the address is unchanged, waiting to retry, or blocked'
complete -c dynhost -n "__fish_dynhost_using_subcommand update" -l dry-run -d 'Decide and log the exact request that would be sent (password redacted); send nothing and write no state'
complete -c dynhost -n "__fish_dynhost_using_subcommand update" -s v -l verbose -d 'More log output (-v debug, -vv trace). Overrides DYNHOST_LOG'
complete -c dynhost -n "__fish_dynhost_using_subcommand update" -s q -l quiet -d 'Less log output (-q warnings, -qq errors). Overrides DYNHOST_LOG'
complete -c dynhost -n "__fish_dynhost_using_subcommand update" -s h -l help -d 'Print help'
complete -c dynhost -n "__fish_dynhost_using_subcommand check" -s c -l config -d 'Config file' -r -F
complete -c dynhost -n "__fish_dynhost_using_subcommand check" -l dry-run -d 'Decide and log the exact request that would be sent (password redacted); send nothing and write no state'
complete -c dynhost -n "__fish_dynhost_using_subcommand check" -s v -l verbose -d 'More log output (-v debug, -vv trace). Overrides DYNHOST_LOG'
complete -c dynhost -n "__fish_dynhost_using_subcommand check" -s q -l quiet -d 'Less log output (-q warnings, -qq errors). Overrides DYNHOST_LOG'
complete -c dynhost -n "__fish_dynhost_using_subcommand check" -s h -l help -d 'Print help'
complete -c dynhost -n "__fish_dynhost_using_subcommand status" -s c -l config -d 'Config file' -r -F
complete -c dynhost -n "__fish_dynhost_using_subcommand status" -l json -d 'Machine-readable output'
complete -c dynhost -n "__fish_dynhost_using_subcommand status" -l dry-run -d 'Decide and log the exact request that would be sent (password redacted); send nothing and write no state'
complete -c dynhost -n "__fish_dynhost_using_subcommand status" -s v -l verbose -d 'More log output (-v debug, -vv trace). Overrides DYNHOST_LOG'
complete -c dynhost -n "__fish_dynhost_using_subcommand status" -s q -l quiet -d 'Less log output (-q warnings, -qq errors). Overrides DYNHOST_LOG'
complete -c dynhost -n "__fish_dynhost_using_subcommand status" -s h -l help -d 'Print help'
complete -c dynhost -n "__fish_dynhost_using_subcommand help; and not __fish_seen_subcommand_from run update check status help" -f -a "run" -d 'Run the daemon in the foreground, logging to stderr'
complete -c dynhost -n "__fish_dynhost_using_subcommand help; and not __fish_seen_subcommand_from run update check status help" -f -a "update" -d 'One update round now, then exit (for hooks and cron)'
complete -c dynhost -n "__fish_dynhost_using_subcommand help; and not __fish_seen_subcommand_from run update check status help" -f -a "check" -d 'Validate the config and print the effective settings, secrets redacted'
complete -c dynhost -n "__fish_dynhost_using_subcommand help; and not __fish_seen_subcommand_from run update check status help" -f -a "status" -d 'Show what was last published, per record and family'
complete -c dynhost -n "__fish_dynhost_using_subcommand help; and not __fish_seen_subcommand_from run update check status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
